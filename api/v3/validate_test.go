package v3

import (
	"errors"
	"strings"
	"testing"
)

// vcase is one validation case: mod changes a valid, defaulted object.
// An empty field means the result must be valid; otherwise Validate must
// report field, and the error text must contain value.
type vcase[T Resource] struct {
	name  string
	mod   func(T)
	field string
	value string
}

// ok and bad build cases tersely.
func ok[T Resource](name string, mod func(T)) vcase[T] { return vcase[T]{name: name, mod: mod} }
func bad[T Resource](name, field, value string, mod func(T)) vcase[T] {
	return vcase[T]{name: name, mod: mod, field: field, value: value}
}

func runCases[T Resource](t *testing.T, base func() T, cases []vcase[T]) {
	t.Helper()
	b := base()
	Default(b)
	if err := Validate(b); err != nil {
		t.Fatalf("base object is invalid: %v", err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := base()
			Default(r)
			c.mod(r)
			checkResult(t, r, Validate(r), c.field, c.value)
		})
	}
}

// checkResult asserts err is nil when field is empty, and otherwise that it
// is a *ValidationError for r naming field and value.
func checkResult(t *testing.T, r Resource, err error, field, value string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error; want one for %s", field)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error is %T, not *ValidationError: %v", err, err)
	}
	msg := err.Error()
	name := r.GetObjectMeta().Name
	if ns := r.GetObjectMeta().Namespace; ns != "" {
		name = ns + "/" + name
	}
	if want := KindOf(r).Kind + ` "` + name + `": `; !strings.HasPrefix(msg, want) {
		t.Errorf("error %q does not start with %q", msg, want)
	}
	found := false
	for _, f := range ve.Fields {
		if f.Field == field && strings.Contains(f.Error(), value) {
			found = true
		}
	}
	if !found {
		t.Errorf("error %q has no field %s mentioning %s", msg, field, value)
	}
}

func TestValidationErrorText(t *testing.T) {
	p := &IPPool{ObjectMeta: ObjectMeta{Name: "pool1"}, Spec: IPPoolSpec{CIDR: "10.0.0.1/16"}}
	Default(p)
	err := Validate(p)
	want := `IPPool "pool1": spec.cidr = "10.0.0.1/16": must be a masked CIDR (did you mean 10.0.0.0/16?)`
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	p.Spec.IPIPMode = "Sometimes"
	if err := Validate(p); err == nil || !strings.Contains(err.Error(), `?); spec.ipipMode = "Sometimes": must be one of`) {
		t.Errorf("several errors are joined with '; ': %v", err)
	}
	np := &NetworkPolicy{ObjectMeta: ObjectMeta{Name: "a", Namespace: "ns"}, Spec: NetworkPolicySpec{Selector: "x =="}}
	Default(np)
	if err := Validate(np); err == nil || !strings.HasPrefix(err.Error(), `NetworkPolicy "ns/a": spec.selector = "x ==": invalid selector`) {
		t.Errorf("got %v", err)
	}
}

// TestValidateMeta covers the metadata rules, which are the same for every
// kind; a Profile stands in for cluster-scoped kinds and a NetworkSet for
// namespaced ones.
func TestValidateMeta(t *testing.T) {
	long := strings.Repeat("a", 254)
	runCases(t, func() *Profile { return &Profile{ObjectMeta: ObjectMeta{Name: "p"}} }, []vcase[*Profile]{
		ok("subdomain name", func(p *Profile) { p.Name = "a-b.c-d.e" }),
		ok("253 chars", func(p *Profile) { p.Name = long[:253] }),
		bad("name required", "metadata.name", "is required", func(p *Profile) { p.Name = "" }),
		bad("name too long", "metadata.name", long, func(p *Profile) { p.Name = long }),
		bad("upper case", "metadata.name", `"Web"`, func(p *Profile) { p.Name = "Web" }),
		bad("underscore", "metadata.name", `"a_b"`, func(p *Profile) { p.Name = "a_b" }),
		bad("leading dash", "metadata.name", `"-a"`, func(p *Profile) { p.Name = "-a" }),
		bad("namespace on cluster kind", "metadata.namespace", `"ns"`, func(p *Profile) { p.Namespace = "ns" }),
		ok("labels", func(p *Profile) {
			p.Labels = map[string]string{"app": "web", "app.kubernetes.io/name": "x-1.2_3", "empty": "", "A": "B"}
		}),
		bad("label key prefix", "metadata.labels", `"Bad_Prefix/x"`, func(p *Profile) { p.Labels = map[string]string{"Bad_Prefix/x": "v"} }),
		bad("label key chars", "metadata.labels", `"a b"`, func(p *Profile) { p.Labels = map[string]string{"a b": "v"} }),
		bad("label key too long", "metadata.labels", strings.Repeat("k", 64), func(p *Profile) { p.Labels = map[string]string{strings.Repeat("k", 64): "v"} }),
		bad("label value chars", "metadata.labels[app]", `"a b"`, func(p *Profile) { p.Labels = map[string]string{"app": "a b"} }),
		bad("label value too long", "metadata.labels[app]", strings.Repeat("v", 64), func(p *Profile) { p.Labels = map[string]string{"app": strings.Repeat("v", 64)} }),
		ok("annotations", func(p *Profile) { p.Annotations = map[string]string{"projectcalico.org/Note": "anything at all"} }),
		bad("annotation key", "metadata.annotations", `"/x"`, func(p *Profile) { p.Annotations = map[string]string{"/x": "v"} }),
		bad("annotations too big", "metadata.annotations", "total size", func(p *Profile) {
			p.Annotations = map[string]string{"a": strings.Repeat("x", 256<<10)}
		}),
		bad("wrong kind", "kind", `"Tier"`, func(p *Profile) { p.Kind = "Tier" }),
		bad("wrong apiVersion", "apiVersion", `"v1"`, func(p *Profile) { p.APIVersion = "v1" }),
	})
	runCases(t, func() *NetworkSet { return &NetworkSet{ObjectMeta: ObjectMeta{Name: "n", Namespace: "prod"}} }, []vcase[*NetworkSet]{
		ok("namespace", func(n *NetworkSet) { n.Namespace = "kube-system" }),
		bad("namespace required", "metadata.namespace", "is required", func(n *NetworkSet) { n.Namespace = "" }),
		bad("namespace is a label", "metadata.namespace", `"a.b"`, func(n *NetworkSet) { n.Namespace = "a.b" }),
	})
}

func TestValidateNotAResource(t *testing.T) {
	type other struct {
		TypeMeta
		ObjectMeta
	}
	if err := Validate(&other{}); err == nil || !strings.Contains(err.Error(), "kind = ") {
		t.Errorf("got %v", err)
	}
}
