package topo

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

var labelPartRE = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?)?$`)

// checkLabelKey applies Kubernetes' label key syntax: an optional DNS
// prefix and a name of at most 63 characters.
func checkLabelKey(key string) error {
	name := key
	if prefix, n, ok := strings.Cut(key, "/"); ok {
		if err := checkDNSSubdomain(prefix); err != nil {
			return fmt.Errorf("has prefix %q, which %v", prefix, err)
		}
		name = n
	}
	if name == "" || len(name) > 63 || !labelPartRE.MatchString(name) {
		return fmt.Errorf("is not a valid label key: at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit")
	}
	return nil
}

// checkLabelValue: at most 63 characters of the label name alphabet.
func checkLabelValue(value string) error {
	if len(value) > 63 || !labelPartRE.MatchString(value) {
		return fmt.Errorf("is not a valid label value: at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit")
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
