package ctl

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
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

// listObject is a <Kind>List, with the Go field names of Calico's list
// types so that go-templates written for calicoctl work on it.
type listObject struct {
	v3.TypeMeta
	ListMeta listMeta      `json:"metadata"`
	Items    []v3.Resource `json:"items"`
}

type listMeta struct {
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

func newList(kind v3.KindInfo, rs []v3.Resource, rev int64) *listObject {
	l := &listObject{TypeMeta: v3.TypeMeta{Kind: kind.ListKind, APIVersion: v3.APIVersion}, Items: rs}
	if l.Items == nil {
		l.Items = []v3.Resource{}
	}
	if rev > 0 {
		l.ListMeta.ResourceVersion = strconv.FormatInt(rev, 10)
	}
	return l
}

// writeObjects prints what was read in YAML or JSON as calicoctl does:
// one thing (a list, or a single named object) as itself, several named
// objects as an array.
func writeObjects(w io.Writer, format string, objs []any) error {
	var obj any = objs
	if len(objs) == 1 {
		obj = objs[0]
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

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// readTemplateFile reads -o go-template-file=FILE.
func readTemplateFile(path string) (string, error) {
	if path == "" {
		return "", errorf("go-template-file: no file given")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("go-template-file: %w", err)
	}
	return string(b), nil
}
