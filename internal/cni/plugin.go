// Package cni is the tortie CNI plugin.
package cni

import (
	"fmt"
	"os"
)

// Main runs the CNI plugin and returns the exit code.
func Main() int {
	fmt.Fprintln(os.Stderr, "tortie: not implemented yet")
	return 1
}
