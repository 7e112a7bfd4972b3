package topo

import (
	"fmt"
	"strings"
)

// FieldError is one problem with one field of a topology.
type FieldError struct {
	// Field is the path of the field, e.g. "nodes[1].interfaces[0].name".
	Field string
	// Value is the offending value as written ("" when absent).
	Value string
	// Reason says what is wrong, e.g. "is 21 bytes long; Linux allows at most 15".
	Reason string
}

func (e FieldError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("%s: %q %s", e.Field, e.Value, e.Reason)
}

// ValidationError lists every problem Resolve found, in document order.
type ValidationError struct {
	Errors []FieldError
}

func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		lines[i] = fe.Error()
	}
	if len(lines) == 1 {
		return "invalid topology: " + lines[0]
	}
	return "invalid topology:\n  " + strings.Join(lines, "\n  ")
}

// problems collects FieldErrors.
type problems struct{ list []FieldError }

func (p *problems) add(field, value string, format string, args ...any) {
	p.list = append(p.list, FieldError{Field: field, Value: value, Reason: fmt.Sprintf(format, args...)})
}

// check records err (if any) against field and value.
func (p *problems) check(field, value string, err error) bool {
	if err != nil {
		p.add(field, value, "%s", err.Error())
		return false
	}
	return true
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &ValidationError{Errors: p.list}
}
