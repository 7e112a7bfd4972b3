package v3

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// FieldError is one invalid field of a resource.
type FieldError struct {
	// Field is the JSON path of the field, e.g. "spec.cidr" or
	// "spec.ingress[0].destination.ports[1]".
	Field string
	// Value is the offending value; nil when there is nothing to show
	// (for example a missing required field).
	Value any
	// Reason says what is wrong, phrased for a user.
	Reason string
}

// Error formats the field error as `field = value: reason`.
func (e FieldError) Error() string {
	if v, ok := formatValue(e.Value); ok {
		return fmt.Sprintf("%s = %s: %s", e.Field, v, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.Field, e.Reason)
}

// ValidationError reports every invalid field of one resource. Its text
// names the resource, then each field error, joined with "; ":
//
//	IPPool "pool1": spec.cidr = "10.0.0.1/16": must be a masked CIDR (did you mean 10.0.0.0/16?)
type ValidationError struct {
	Kind      string
	Name      string
	Namespace string
	Fields    []FieldError
}

// Error implements error.
func (e *ValidationError) Error() string {
	var b strings.Builder
	name := e.Name
	if e.Namespace != "" {
		name = e.Namespace + "/" + e.Name
	}
	fmt.Fprintf(&b, "%s %q: ", e.Kind, name)
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Error())
	}
	return b.String()
}

// formatValue renders a field value for an error message: strings quoted,
// pointers followed, Stringers by their String method. It reports false for
// nil, which is left out of the message.
func formatValue(v any) (string, bool) {
	if v == nil {
		return "", false
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "", false
		}
		rv = rv.Elem()
	}
	if s, ok := rv.Interface().(fmt.Stringer); ok {
		return strconv.Quote(s.String()), true
	}
	switch {
	case rv.Kind() == reflect.String:
		return strconv.Quote(rv.String()), true
	case rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.String:
		return fmt.Sprintf("%q", rv.Interface()), true
	}
	return fmt.Sprint(rv.Interface()), true
}

// errs collects field errors while validating one resource.
type errs struct {
	list []FieldError
}

// add records that field holds value and is invalid for reason.
func (e *errs) add(field string, value any, reason string) {
	e.list = append(e.list, FieldError{Field: field, Value: value, Reason: reason})
}

// addf is add with a formatted reason.
func (e *errs) addf(field string, value any, format string, args ...any) {
	e.add(field, value, fmt.Sprintf(format, args...))
}

// result wraps the collected errors into a *ValidationError for r, or
// returns nil when there are none.
func (e *errs) result(r Resource) error {
	if len(e.list) == 0 {
		return nil
	}
	m := r.GetObjectMeta()
	return &ValidationError{
		Kind:      KindOf(r).Kind,
		Name:      m.Name,
		Namespace: m.Namespace,
		Fields:    e.list,
	}
}

// at returns path[i].
func at(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }
