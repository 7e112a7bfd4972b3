package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tortienet/tortie/internal/selector"
)

// Matches reports whether s selects e.
func (s *EntitySelector) Matches(e *Entity) bool {
	switch {
	case s.Namespace != "" && e.Namespace != s.Namespace:
		return false
	case s.Global && e.Namespace != "":
		return false
	case s.NamespaceSel != nil && (e.Namespace == "" || !s.NamespaceSel.Evaluate(withPrefix(e.Labels, NamespaceLabelPrefix))):
		return false
	}
	if s.ServiceAccounts != nil || s.ServiceAccountSel != nil {
		if e.Kind != WorkloadEndpoint || e.ServiceAccount == "" {
			return false
		}
		if s.ServiceAccounts != nil && !slices.Contains(s.ServiceAccounts, e.ServiceAccount) {
			return false
		}
		if s.ServiceAccountSel != nil && !s.ServiceAccountSel.Evaluate(withPrefix(e.Labels, ServiceAccountLabelPrefix)) {
			return false
		}
	}
	return s.Labels == nil || s.Labels.Evaluate(e.Labels)
}

// withPrefix returns the labels that start with prefix, without it: a
// namespace's (or service account's) own labels as its profile applied
// them to the endpoint.
func withPrefix(labels map[string]string, prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range labels {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			out[rest] = v
		}
	}
	return out
}

// scope is how a selector's namespace is restricted.
type scope struct {
	namespace string // only this namespace
	nsSel     string // a namespace selector's text ("" for none)
}

// newEntitySelector compiles a label selector (""= all()) under a scope,
// with an optional service-account condition. field names what is
// compiled, for errors.
func newEntitySelector(field, labels string, sc scope, saNames []string, saSel string) (*EntitySelector, error) {
	s := &EntitySelector{Namespace: sc.namespace, ServiceAccounts: saNames}
	var err error
	if s.Labels, err = parseOptional(field+".selector", labels); err != nil {
		return nil, err
	}
	if sc.nsSel != "" {
		ns, err := selector.Parse(sc.nsSel)
		if err != nil {
			return nil, fmt.Errorf("%s.namespaceSelector = %q: %w", field, sc.nsSel, err)
		}
		s.Namespace = ""
		if ns.UsesGlobal() {
			s.Global = true
		} else {
			s.NamespaceSel = ns
		}
	}
	if s.ServiceAccountSel, err = parseOptional(field+".serviceAccounts.selector", saSel); err != nil {
		return nil, err
	}
	if saSel != "" && s.ServiceAccountSel == nil {
		s.ServiceAccountSel = selector.MustParse("all()")
	}
	s.Key = s.key()
	return s, nil
}

// parseOptional parses a selector; "" gives nil (everything).
func parseOptional(field, text string) (*selector.Selector, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	s, err := selector.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%s = %q: %w", field, text, err)
	}
	if s.IsAll() && !s.UsesGlobal() {
		return nil, nil
	}
	return s, nil
}

// key is the canonical text of s.
func (s *EntitySelector) key() string {
	var b strings.Builder
	b.WriteString("sel(")
	if s.Labels != nil {
		b.WriteString(s.Labels.String())
	} else {
		b.WriteString("all()")
	}
	b.WriteString(")")
	if s.Namespace != "" {
		fmt.Fprintf(&b, " ns(%s)", s.Namespace)
	}
	if s.Global {
		b.WriteString(" global()")
	}
	if s.NamespaceSel != nil {
		fmt.Fprintf(&b, " nssel(%s)", s.NamespaceSel)
	}
	if s.ServiceAccounts != nil {
		names := slices.Clone(s.ServiceAccounts)
		slices.Sort(names)
		fmt.Fprintf(&b, " sa(%s)", strings.Join(names, ","))
	}
	if s.ServiceAccountSel != nil {
		fmt.Fprintf(&b, " sasel(%s)", s.ServiceAccountSel)
	}
	return b.String()
}
