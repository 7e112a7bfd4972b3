package ctl

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"sigs.k8s.io/yaml"

	v3 "github.com/tortienet/tortie/api/v3"
)

// writeTable prints rows the way calicoctl does: left-aligned columns
// separated by three spaces, every cell padded (so lines carry trailing
// spaces), and a blank line after the table.
func writeTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 5, 1, 3, ' ', 0)
	for _, row := range append([][]string{header}, rows...) {
		for _, cell := range row {
			fmt.Fprint(tw, cell, "\t")
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w)
	return err
}

// listObject is what -o yaml|json prints for several resources.
type listObject struct {
	Kind       string        `json:"kind"`
	APIVersion string        `json:"apiVersion"`
	Metadata   listMeta      `json:"metadata"`
	Items      []v3.Resource `json:"items"`
}

type listMeta struct {
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

// writeObjects prints one resource as itself, several (or a listing) as a
// <Kind>List, in YAML or JSON.
func writeObjects(w io.Writer, format string, kind v3.KindInfo, rs []v3.Resource, single bool, rev int64) error {
	var obj any
	if single && len(rs) == 1 {
		obj = rs[0]
	} else {
		l := listObject{Kind: kind.ListKind, APIVersion: v3.APIVersion, Items: rs}
		if l.Items == nil {
			l.Items = []v3.Resource{}
		}
		if rev > 0 {
			l.Metadata.ResourceVersion = strconv.FormatInt(rev, 10)
		}
		obj = l
	}
	switch format {
	case "json":
		b, err := json.MarshalIndent(obj, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	return fmt.Errorf("output format %q: must be ps, wide, yaml or json", format)
}
