package v3

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration written in JSON as a Go duration string
// ("90s", "1m30s", "0s"), like Kubernetes' metav1.Duration. Input must be a
// string that time.ParseDuration accepts.
type Duration struct {
	time.Duration
}

// NewDuration returns a pointer to a Duration of d, for the optional
// (pointer) duration fields.
func NewDuration(d time.Duration) *Duration { return &Duration{d} }

// MarshalJSON writes the duration as a string, e.g. "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.Duration.String())
}

// UnmarshalJSON parses a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"90s\": %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: %w", s, err)
	}
	d.Duration = v
	return nil
}
