// Package buildinfo holds the version stamped into every tortie binary.
package buildinfo

import "runtime/debug"

// Version and GitCommit are set at link time by the Makefile
// (-ldflags "-X github.com/tortienet/tortie/internal/buildinfo.Version=...").
var (
	Version   = "v0.1.0-dev"
	GitCommit = ""
)

// Commit returns the git commit the binary was built from, or "unknown".
func Commit() string {
	if GitCommit != "" {
		return GitCommit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}
