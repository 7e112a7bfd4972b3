// Command tortiectl is tortie's calicoctl.
package main

import (
	"context"
	"os"

	"github.com/tortienet/tortie/internal/ctl"
)

func main() {
	os.Exit(ctl.Main(context.Background(), os.Args[1:]))
}
