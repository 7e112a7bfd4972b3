package ctl

import (
	"fmt"
	"log/slog"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tortienet/tortie/internal/datastore/embedded"
)

func (a *App) datastoreCommand() *cobra.Command {
	ds := &cobra.Command{Use: "datastore", Short: "Run or manage the datastore"}
	var cfg embedded.Config
	serve := &cobra.Command{
		Use:   "serve --data-dir DIR",
		Short: "Serve the embedded etcd datastore (the single-machine default) until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.DataDir == "" {
				return a.fail("datastore serve: --data-dir is required")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			cfg.Logger = slog.New(slog.NewTextHandler(a.Err, &slog.HandlerOptions{Level: slog.LevelWarn}))
			srv, err := embedded.Start(ctx, cfg)
			if err != nil {
				return a.fail("datastore serve: %v", err)
			}
			defer srv.Close()
			fmt.Fprintf(a.Out, "Serving the embedded datastore at %v (data in %s)\n", srv.Endpoints(), cfg.DataDir)
			select {
			case <-ctx.Done():
				return nil
			case err := <-srv.Err():
				return a.fail("datastore serve: %v", err)
			}
		},
	}
	f := serve.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", "", "directory for the datastore's data (kept across restarts)")
	f.StringVar(&cfg.ClientAddr, "listen", "127.0.0.1:2379", "client address host:port")
	f.StringVar(&cfg.PeerAddr, "peer-listen", "127.0.0.1:2380", "peer address host:port")
	f.StringVar(&cfg.ServerCertFile, "cert-file", "", "serve TLS with this certificate")
	f.StringVar(&cfg.ServerKeyFile, "key-file", "", "key of --cert-file")
	f.StringVar(&cfg.ClientCAFile, "client-ca-file", "", "require client certificates signed by this CA")
	ds.AddCommand(serve)
	return ds
}
