// Package plugin is the tortie-ipam CNI IPAM plugin.
package plugin

import (
	"fmt"
	"os"
)

// Main runs the IPAM plugin and returns the exit code.
func Main() int {
	fmt.Fprintln(os.Stderr, "tortie-ipam: not implemented yet")
	return 1
}
