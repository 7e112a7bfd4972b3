// Command gen writes deploy/crds.yaml and deploy/tortie.yaml:
// go generate ./internal/datastore/kdd/crds.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tortienet/tortie/internal/datastore/kdd/crds"
)

func main() {
	dir := flag.String("dir", "deploy", "the deploy directory")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	b, err := crds.YAML()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "crds.yaml"), b, 0o644); err != nil {
		return err
	}
	comp, err := os.ReadFile(filepath.Join(dir, "tortie-components.yaml"))
	if err != nil {
		return err
	}
	m, err := crds.Manifest(comp)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "tortie.yaml"), m, 0o644)
}
