package ctl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"sigs.k8s.io/yaml"

	v3 "github.com/tortienet/tortie/api/v3"
)

// Doc is one resource read from a file, with where it came from.
type Doc struct {
	Source   string // "file.yaml, document 2"
	Resource v3.Resource
}

// DecodeError is a problem with the input itself (malformed YAML, unknown
// kind or field): when any document has one, nothing in the file is written.
type DecodeError struct {
	Source string
	Err    error
}

func (e *DecodeError) Error() string { return e.Source + ": " + e.Err.Error() }
func (e *DecodeError) Unwrap() error { return e.Err }

// Decode reads a stream of YAML or JSON documents separated by "---",
// expanding `kind: List` and `kind: <Kind>List` documents into their items.
// It returns every resource, or all the decode errors found.
func Decode(name string, r io.Reader) ([]Doc, error) {
	return decode(name, r, false)
}

// decode is Decode; with v1, calicoctl v1 documents are converted to v3
// (tortiectl convert) instead of refused.
func decode(name string, r io.Reader, v1 bool) ([]Doc, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	var docs []Doc
	var errs []error
	for i, chunk := range splitDocuments(raw) {
		src := fmt.Sprintf("%s, document %d", name, i+1)
		ds, err := decodeDocument(src, chunk, v1)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		docs = append(docs, ds...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(docs) == 0 {
		return nil, &DecodeError{Source: name, Err: errors.New("no resources found")}
	}
	return docs, nil
}

// splitDocuments cuts a YAML stream at lines that are exactly "---"
// (optionally followed by a comment), dropping empty documents.
func splitDocuments(data []byte) [][]byte {
	var out [][]byte
	var cur bytes.Buffer
	flush := func() {
		if len(bytes.TrimSpace(stripComments(cur.Bytes()))) > 0 {
			out = append(out, append([]byte(nil), cur.Bytes()...))
		}
		cur.Reset()
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		t := strings.TrimRight(line, " \t\r")
		if t == "---" || strings.HasPrefix(t, "--- #") {
			flush()
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	flush()
	return out
}

func stripComments(b []byte) []byte {
	var out bytes.Buffer
	for _, line := range bytes.Split(b, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			out.Write(line)
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

type header struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Items      []json.RawMessage `json:"items"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
}

func decodeDocument(src string, chunk []byte, v1 bool) ([]Doc, error) {
	js, err := yaml.YAMLToJSON(chunk)
	if err != nil {
		return nil, &DecodeError{Source: src, Err: fmt.Errorf("malformed YAML: %w", err)}
	}
	h, err := readHeader(js)
	if err != nil {
		return nil, &DecodeError{Source: src, Err: err}
	}
	if h.Kind == "List" || (strings.HasSuffix(h.Kind, "List") && h.Items != nil) {
		var out []Doc
		var errs []error
		for i, item := range h.Items {
			ds, err := decodeObject(fmt.Sprintf("%s, item %d", src, i+1), item, v1)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, ds)
		}
		return out, errors.Join(errs...)
	}
	d, err := decodeObject(src, js, v1)
	if err != nil {
		return nil, err
	}
	return []Doc{d}, nil
}

func decodeObject(src string, js []byte, v1 bool) (Doc, error) {
	h, err := readHeader(js)
	if err != nil {
		return Doc{}, &DecodeError{Source: src, Err: err}
	}
	decodeSrc := src
	if h.Metadata.Name != "" {
		decodeSrc = fmt.Sprintf("%s (%s %q)", src, h.Kind, h.Metadata.Name)
	}
	if h.Kind == "" {
		return Doc{}, &DecodeError{Source: decodeSrc, Err: errors.New("kind is missing")}
	}
	if h.APIVersion == "v1" {
		r, err := convertV1(h.Kind, js)
		switch {
		case err != nil:
			return Doc{}, &DecodeError{Source: src, Err: err}
		case !v1:
			return Doc{}, &DecodeError{Source: src, Err: v1Refusal(h.Kind, r)}
		}
		return Doc{Source: src, Resource: r}, nil
	}
	if h.APIVersion != v3.APIVersion {
		return Doc{}, &DecodeError{Source: decodeSrc, Err: fmt.Errorf("apiVersion = %q: expected %q", h.APIVersion, v3.APIVersion)}
	}
	ki, ok := v3.LookupKind(h.Kind)
	if !ok || ki.Kind != h.Kind {
		return Doc{}, &DecodeError{Source: decodeSrc, Err: fmt.Errorf("kind = %q: unknown resource kind", h.Kind)}
	}
	r := ki.New()
	var generic any
	if err := json.Unmarshal(js, &generic); err != nil {
		return Doc{}, &DecodeError{Source: decodeSrc, Err: err}
	}
	if path := unknownField(generic, reflect.TypeOf(r), ""); path != "" {
		return Doc{}, &DecodeError{Source: decodeSrc, Err: fmt.Errorf("unknown field %q", path)}
	}
	if err := json.Unmarshal(js, r); err != nil {
		return Doc{}, &DecodeError{Source: decodeSrc, Err: describeJSONError(err)}
	}
	return Doc{Source: src, Resource: r}, nil
}

// readHeader reads apiVersion, kind, metadata and items of a document.
func readHeader(js []byte) (header, error) {
	var h header
	if !bytes.HasPrefix(bytes.TrimSpace(js), []byte("{")) {
		return h, errors.New("expected a resource object with apiVersion and kind")
	}
	if err := json.Unmarshal(js, &h); err != nil {
		return h, describeJSONError(err)
	}
	return h, nil
}

// describeJSONError rewords encoding/json's type errors to name the field.
func describeJSONError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		hint := ""
		if te.Value == "bool" && te.Type.Kind() == reflect.String {
			hint = " (quote the value: YAML reads unquoted y, yes, on, n, no, off as booleans)"
		}
		return fmt.Errorf("%s: expected %s, got a JSON %s%s", te.Field, te.Type, te.Value, hint)
	}
	return err
}

var unmarshalerType = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()

// unknownField walks decoded JSON against the Go type that will receive it
// and returns the path of the first field the type has no place for ("" if
// none). Types with their own UnmarshalJSON check themselves.
func unknownField(v any, t reflect.Type, path string) string {
	for t.Kind() == reflect.Pointer {
		if reflect.PointerTo(t.Elem()).Implements(unmarshalerType) || t.Implements(unmarshalerType) {
			return ""
		}
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return ""
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		fields := jsonFields(t)
		for _, k := range sortedKeys(m) {
			ft, ok := fields[k]
			p := joinPath(path, k)
			if !ok {
				return p
			}
			if bad := unknownField(m[k], ft, p); bad != "" {
				return bad
			}
		}
	case reflect.Slice, reflect.Array:
		s, ok := v.([]any)
		if !ok {
			return ""
		}
		for i, e := range s {
			if bad := unknownField(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); bad != "" {
				return bad
			}
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		for _, k := range sortedKeys(m) {
			if bad := unknownField(m[k], t.Elem(), joinPath(path, k)); bad != "" {
				return bad
			}
		}
	}
	return ""
}

// jsonFields maps a struct's JSON names to field types, flattening
// anonymous untagged structs the way encoding/json does.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					out[k] = v
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}
