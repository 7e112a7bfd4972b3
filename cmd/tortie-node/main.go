// Command tortie-node is the per-node agent (calico-node). It is
// configured by calico-node's environment variables.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/tortienet/tortie/internal/buildinfo"
	"github.com/tortienet/tortie/internal/cni/install"
	"github.com/tortienet/tortie/internal/node"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "version" || os.Args[1] == "--version") {
		fmt.Println(buildinfo.Version)
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "install-cni" {
		cfg, err := install.ConfigFromEnv(os.Getenv)
		if err == nil {
			err = install.Run(cfg)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level(os.Getenv("FELIX_LOGSEVERITYSCREEN"))}))
	if err := run(log); err != nil {
		log.Error("tortie-node stopped", "error", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	cfg, err := node.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	k, closeKernel, err := node.LinuxKernel(ctx, log)
	if err != nil {
		return err
	}
	defer closeKernel()
	return node.New(cfg, k, log).Run(ctx)
}

func level(s string) slog.Level {
	switch strings.ToLower(s) {
	case "debug", "trace":
		return slog.LevelDebug
	case "warning", "warn":
		return slog.LevelWarn
	case "error", "fatal", "panic":
		return slog.LevelError
	}
	return slog.LevelInfo
}
