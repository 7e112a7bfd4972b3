package ctl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	v3 "github.com/tortienet/tortie/api/v3"
)

// v1IPPool is calicoctl v1's (Calico 2.x) ipPool.
type v1IPPool struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		CIDR string `json:"cidr"`
	} `json:"metadata"`
	Spec struct {
		IPIP *struct {
			Enabled *bool  `json:"enabled"`
			Mode    string `json:"mode"`
		} `json:"ipip"`
		NATOutgoing bool `json:"nat-outgoing"`
		Disabled    bool `json:"disabled"`
	} `json:"spec"`
}

// convertV1 turns a calicoctl v1 document into its v3 resource, as
// calicoctl v3's convert did. Only ipPool is converted.
func convertV1(kind string, js []byte) (v3.Resource, error) {
	if kind != "ipPool" {
		return nil, fmt.Errorf("apiVersion = \"v1\", kind = %q: this is a calicoctl v1 (Calico 2.x) resource; tortie reads %s only, and converts only v1 ipPool: write it as its v3 kind (see the Calico v3 reference)", kind, v3.APIVersion)
	}
	var p v1IPPool
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("v1 ipPool: %w", describeJSONError(err))
	}
	if p.Metadata.CIDR == "" {
		return nil, fmt.Errorf("v1 ipPool: metadata.cidr is required")
	}
	pool := &v3.IPPool{ObjectMeta: v3.ObjectMeta{Name: v1PoolName(p.Metadata.CIDR)}}
	pool.Spec.CIDR = p.Metadata.CIDR
	pool.Spec.NATOutgoing = p.Spec.NATOutgoing
	pool.Spec.Disabled = p.Spec.Disabled
	pool.Spec.IPIPMode = v3.EncapNever
	if ip := p.Spec.IPIP; ip != nil && (ip.Enabled == nil || *ip.Enabled) {
		switch strings.ToLower(ip.Mode) {
		case "", "always":
			pool.Spec.IPIPMode = v3.EncapAlways
		case "cross-subnet":
			pool.Spec.IPIPMode = v3.EncapCrossSubnet
		default:
			return nil, fmt.Errorf("v1 ipPool: spec.ipip.mode = %q: must be always or cross-subnet", ip.Mode)
		}
	}
	*pool.GetTypeMeta() = v3.TypeMeta{Kind: "IPPool", APIVersion: v3.APIVersion}
	return pool, nil
}

// v1PoolName is the name calicoctl convert gave a v1 pool: its CIDR with
// '.', ':' and '/' as '-'.
func v1PoolName(cidr string) string {
	return strings.NewReplacer(".", "-", ":", "-", "/", "-").Replace(cidr)
}

// v1Refusal explains a v1 document and shows its v3 equivalent.
func v1Refusal(kind string, r v3.Resource) error {
	b, _ := yaml.Marshal(r)
	return fmt.Errorf("apiVersion = \"v1\", kind = %q: this is a calicoctl v1 (Calico 2.x) resource; tortie reads %s only. "+
		"`tortiectl convert -f FILE` converts the file; this document as v3 is:\n%s", kind, v3.APIVersion, indent(string(b)))
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

func (a *App) convertCommand() *cobra.Command {
	var file, output string
	cmd := &cobra.Command{
		Use:   "convert -f FILE [-o yaml|json]",
		Short: "Convert calicoctl v1 resources (ipPool) to projectcalico.org/v3, as calicoctl v3 did",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return a.fail("convert: -f FILE is required (- for standard input)")
			}
			var in io.Reader = a.In
			if file != "-" {
				f, err := os.Open(file)
				if err != nil {
					return a.fail("convert: %v", err)
				}
				defer f.Close()
				in = f
			}
			docs, err := decode(file, in, true)
			if err != nil {
				return a.fail("Failed to convert: %v", err)
			}
			return a.writeConverted(docs, output)
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "the file to convert (- for standard input)")
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "yaml or json")
	return cmd
}

// writeConverted prints the resources: one as itself, several as a List.
func (a *App) writeConverted(docs []Doc, output string) error {
	if output != "yaml" && output != "json" {
		return a.fail("convert: -o %q: must be yaml or json", output)
	}
	rs := make([]v3.Resource, len(docs))
	for i, d := range docs {
		if err := validCopy(d.Resource); err != nil {
			return a.fail("Failed to convert: %s: %v", d.Source, err)
		}
		rs[i] = d.Resource
	}
	var obj any = rs[0]
	if len(rs) > 1 {
		obj = &listObject{TypeMeta: v3.TypeMeta{Kind: "List", APIVersion: v3.APIVersion}, Items: rs}
	}
	if err := writeObjects(a.Out, output, []any{obj}); err != nil {
		return a.fail("convert: %v", err)
	}
	return nil
}

// validCopy validates a defaulted copy of r, leaving r as written.
func validCopy(r v3.Resource) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	c := v3.KindOf(r).New()
	if err := json.Unmarshal(b, c); err != nil {
		return err
	}
	v3.Default(c)
	return v3.Validate(c)
}
