package ctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/datastore"
)

type verb struct {
	name, past string
}

var (
	verbCreate  = verb{"create", "created"}
	verbApply   = verb{"apply", "applied"}
	verbReplace = verb{"replace", "replaced"}
	verbDelete  = verb{"delete", "deleted"}
)

type fileFlags struct {
	files     []string
	recursive bool
	namespace string
}

func (f *fileFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVarP(&f.files, "filename", "f", nil, "file or directory of resources, or - for standard input")
	cmd.Flags().BoolVarP(&f.recursive, "recursive", "R", false, "process directories recursively")
	cmd.Flags().StringVarP(&f.namespace, "namespace", "n", "", "namespace for namespaced resources that do not name one")
}

// read decodes every input; any decode error means nothing is written.
func (a *App) readDocs(f *fileFlags) ([]Doc, error) {
	if len(f.files) == 0 {
		return nil, errors.New("no input: give -f FILE, -f DIR or -f -")
	}
	var docs []Doc
	var errs []error
	add := func(name string, r io.Reader) {
		ds, err := Decode(name, r)
		if err != nil {
			errs = append(errs, err)
			return
		}
		docs = append(docs, ds...)
	}
	for _, name := range f.files {
		if name == "-" {
			add("stdin", a.In)
			continue
		}
		paths, err := expandPath(name, f.recursive)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, p := range paths {
			fh, err := os.Open(p)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			add(p, fh)
			fh.Close()
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, d := range docs {
		m := d.Resource.GetObjectMeta()
		if v3.KindOf(d.Resource).Namespaced && m.Namespace == "" && f.namespace != "" {
			m.Namespace = f.namespace
		}
	}
	return docs, nil
}

// expandPath lists the resource files at path: the file itself, or the
// .yaml/.yml/.json files of a directory (recursively with -R).
func expandPath(path string, recursive bool) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	var out []string
	err = filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != path && !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

func (a *App) writeCommand(v verb) *cobra.Command {
	var ff fileFlags
	var skipExists bool
	cmd := &cobra.Command{
		Use:   v.name + " -f FILE",
		Short: strings.ToUpper(v.name[:1]) + v.name[1:] + " resources from a file, a directory or standard input",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			docs, err := a.readDocs(&ff)
			if err != nil {
				return a.fail("Failed to %s resources: nothing was written:\n%v", v.name, err)
			}
			c, err := a.client(cmd.Context())
			if err != nil {
				return a.fail("Failed to %s resources: %v", v.name, err)
			}
			defer c.Close()
			return a.report(v, docs, func(ctx context.Context, r v3.Resource) error {
				var err error
				switch v {
				case verbCreate:
					_, err = c.Create(ctx, r)
					if skipExists && errors.Is(err, datastore.ErrAlreadyExists) {
						err = nil
					}
				case verbApply:
					_, err = c.Apply(ctx, r)
				case verbReplace:
					_, err = c.Update(ctx, r)
				}
				return err
			}, cmd.Context())
		},
	}
	ff.register(cmd)
	if v == verbCreate {
		cmd.Flags().BoolVar(&skipExists, "skip-exists", false, "do not fail on resources that already exist")
	}
	return cmd
}

// report runs op on every document and prints calicoctl's summary: the
// success line when all went well, otherwise what was written and, per
// refused resource, why.
func (a *App) report(v verb, docs []Doc, op func(context.Context, v3.Resource) error, ctx context.Context) error {
	var done []Doc
	type failure struct {
		doc Doc
		err error
	}
	var failed []failure
	for _, d := range docs {
		if err := op(ctx, d.Resource); err != nil {
			failed = append(failed, failure{d, err})
			continue
		}
		done = append(done, d)
	}
	if len(failed) == 0 {
		fmt.Fprintf(a.Out, "Successfully %s %d %sresource(s)\n", v.past, len(done), kindLabel(docs))
		return nil
	}
	if len(docs) == 1 {
		return a.fail("Failed to %s '%s' resource: [%v]", v.name, v3.KindOf(docs[0].Resource).Kind, failed[0].err)
	}
	if len(done) > 0 {
		fmt.Fprintf(a.Out, "Partial success: %s %d out of %d resources:\n", v.past, len(done), len(docs))
		for _, d := range done {
			fmt.Fprintf(a.Out, "  %s %s\n", v.past, describeResource(d.Resource))
		}
	}
	for _, f := range failed {
		fmt.Fprintf(a.Err, "Failed to %s %s: %v\n", v.name, f.doc.Source, f.err)
	}
	return &exitError{code: 1}
}

// kindLabel is "'IPPool' " when every document has the same kind, else "".
func kindLabel(docs []Doc) string {
	if len(docs) == 0 {
		return ""
	}
	k := v3.KindOf(docs[0].Resource).Kind
	for _, d := range docs[1:] {
		if v3.KindOf(d.Resource).Kind != k {
			return ""
		}
	}
	return "'" + k + "' "
}

func describeResource(r v3.Resource) string {
	m := r.GetObjectMeta()
	if m.Namespace != "" {
		return fmt.Sprintf("%s %q in namespace %q", v3.KindOf(r).Kind, m.Name, m.Namespace)
	}
	return fmt.Sprintf("%s %q", v3.KindOf(r).Kind, m.Name)
}

func (a *App) validateCommand() *cobra.Command {
	var ff fileFlags
	cmd := &cobra.Command{
		Use:   "validate -f FILE",
		Short: "Check resources without writing them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			docs, err := a.readDocs(&ff)
			if err != nil {
				return a.fail("Failed to validate resources:\n%v", err)
			}
			bad := 0
			for _, d := range docs {
				v3.Default(d.Resource)
				if err := v3.Validate(d.Resource); err != nil {
					fmt.Fprintf(a.Err, "%s: %v\n", d.Source, err)
					bad++
				}
			}
			if bad > 0 {
				return &exitError{code: 1}
			}
			fmt.Fprintf(a.Out, "Successfully validated %d %sresource(s)\n", len(docs), kindLabel(docs))
			return nil
		},
	}
	ff.register(cmd)
	return cmd
}
