package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/spf13/cobra"

	v3 "github.com/tortienet/tortie/api/v3"
	"github.com/tortienet/tortie/internal/client"
	"github.com/tortienet/tortie/internal/datastore"
)

func (a *App) patchCommand() *cobra.Command {
	var patch, patchType, namespace string
	cmd := &cobra.Command{
		Use:   "patch KIND NAME -p PATCH",
		Short: "Change fields of a resource with a merge or JSON patch",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ki, ok := v3.LookupKind(args[0])
			if !ok {
				return a.fail("Failed to patch resource: resource type '%s' is not supported", args[0])
			}
			if patch == "" {
				return a.fail("Failed to patch resource: --patch (-p) is required")
			}
			switch patchType {
			case "strategic", "merge", "json":
			default:
				return a.fail("Failed to patch resource: --type = %q: must be strategic, merge or json", patchType)
			}
			if ki.Namespaced && namespace == "" {
				namespace = "default"
			}
			c, err := a.client(cmd.Context())
			if err != nil {
				return a.fail("Failed to patch resource: %v", err)
			}
			defer c.Close()
			err = modify(cmd.Context(), c, ki, namespace, args[1], func(r v3.Resource) (v3.Resource, error) {
				return patchResource(ki, r, patch, patchType)
			})
			if err != nil {
				return a.fail("Failed to patch '%s' resource: [%v]", ki.Kind, err)
			}
			fmt.Fprintf(a.Out, "Successfully patched 1 '%s' resource\n", ki.Kind)
			return nil
		},
	}
	cmd.Flags().StringVarP(&patch, "patch", "p", "", "the patch, as JSON")
	cmd.Flags().StringVarP(&patchType, "type", "t", "strategic", "patch type: strategic, merge or json")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace (default: default)")
	return cmd
}

// patchResource applies a patch to r's JSON and decodes the result strictly.
func patchResource(ki v3.KindInfo, r v3.Resource, patch, patchType string) (v3.Resource, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if patchType == "json" {
		if doc, err = applyJSONPatch(doc, []byte(patch)); err != nil {
			return nil, err
		}
	} else {
		var p any
		if err := json.Unmarshal([]byte(patch), &p); err != nil {
			return nil, fmt.Errorf("patch %q is not valid JSON: %w", patch, err)
		}
		doc = mergePatch(doc, p)
	}
	if path := unknownField(doc, reflect.TypeOf(r), ""); path != "" {
		return nil, fmt.Errorf("unknown field %q", path)
	}
	out, _ := json.Marshal(doc)
	n := ki.New()
	if err := json.Unmarshal(out, n); err != nil {
		return nil, describeJSONError(err)
	}
	nm, om := n.GetObjectMeta(), r.GetObjectMeta()
	if nm.Name != om.Name || nm.Namespace != om.Namespace {
		return nil, fmt.Errorf("metadata.name and metadata.namespace cannot be patched")
	}
	nm.ResourceVersion = om.ResourceVersion
	return n, nil
}

// modify is a compare-and-swap read-modify-write of one resource, retried
// when someone else writes in between.
func modify(ctx context.Context, c *client.Client, ki v3.KindInfo, namespace, name string, f func(v3.Resource) (v3.Resource, error)) error {
	for attempt := 0; ; attempt++ {
		r, err := c.Get(ctx, ki, namespace, name)
		if err != nil {
			return err
		}
		n, err := f(r)
		if err != nil {
			return err
		}
		_, err = c.Update(ctx, n)
		if err == nil || !errors.Is(err, datastore.ErrConflict) || attempt >= 20 {
			return err
		}
	}
}

func (a *App) labelCommand() *cobra.Command {
	var remove, overwrite bool
	var namespace string
	cmd := &cobra.Command{
		Use:   "label KIND NAME key=value | label KIND NAME key --remove",
		Short: "Add, change or remove a label of a resource",
		Args:  cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			ki, ok := v3.LookupKind(args[0])
			if !ok {
				return a.fail("Failed to label resource: resource type '%s' is not supported", args[0])
			}
			key, value, hasValue := strings.Cut(args[2], "=")
			if remove == hasValue {
				return a.fail("Failed to label resource: give key=value to set a label, or key with --remove to remove one")
			}
			if ki.Namespaced && namespace == "" {
				namespace = "default"
			}
			c, err := a.client(cmd.Context())
			if err != nil {
				return a.fail("Failed to label resource: %v", err)
			}
			defer c.Close()
			err = modify(cmd.Context(), c, ki, namespace, args[1], func(r v3.Resource) (v3.Resource, error) {
				m := r.GetObjectMeta()
				old, exists := m.Labels[key]
				switch {
				case remove && !exists:
					return nil, fmt.Errorf("label %q is not present", key)
				case remove:
					delete(m.Labels, key)
				case exists && old != value && !overwrite:
					return nil, fmt.Errorf("label %q already has value %q; use --overwrite to change it", key, old)
				default:
					if m.Labels == nil {
						m.Labels = map[string]string{}
					}
					m.Labels[key] = value
				}
				return r, nil
			})
			if err != nil {
				return a.fail("Failed to label %s %q: %v", ki.Kind, args[1], err)
			}
			if remove {
				fmt.Fprintf(a.Out, "Successfully removed label %s from %s %s\n", key, strings.ToLower(ki.Kind), args[1])
			} else {
				fmt.Fprintf(a.Out, "Successfully set label %s on %s %s\n", key, strings.ToLower(ki.Kind), args[1])
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&remove, "remove", false, "remove the label")
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "replace an existing label's value")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace (default: default)")
	return cmd
}
