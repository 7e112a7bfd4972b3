// Command gen writes deploy/crds.yaml: go generate ./internal/datastore/kdd/crds.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/tortienet/tortie/internal/datastore/kdd/crds"
)

func main() {
	out := flag.String("o", "crds.yaml", "output file")
	flag.Parse()
	b, err := crds.YAML()
	if err == nil {
		err = os.WriteFile(*out, b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
