package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/app"
	"github.com/plexsphere/plexsphere/internal/config"
	"github.com/plexsphere/plexsphere/internal/store"
)

func serveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the control plane",
		Long: `Run the control plane. With no flags it listens on 127.0.0.1:8080 and keeps
SQLite, the master key and the first admin token in ./plexsphere-data.

On the first start against an empty database it creates the Platform and a
platform-admin API token, prints the token once on stderr and writes it to
<data-dir>/admin-token (mode 0600).

Configuration precedence: flags > PLEXSPHERE_* environment > --config YAML file > defaults.`,
		Example: `  plexsphere serve
  plexsphere serve --data-dir /var/lib/plexsphere --listen 0.0.0.0:8443 --tls-cert-file c.pem --tls-key-file k.pem
  PLEXSPHERE_DATABASE_URL=postgres://plexsphere@db/plexsphere plexsphere serve
  plexsphere serve --listen 0.0.0.0:8080 --trusted-proxies 10.0.0.0/8   # behind a reverse proxy`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			log := newLogger(cfg, cmd.ErrOrStderr())
			ctx := cmd.Context()
			srv, err := app.Open(ctx, cfg, log)
			if err != nil {
				return err
			}
			defer srv.Close()
			tok, err := srv.Bootstrap(ctx)
			if err != nil {
				return err
			}
			if tok != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "\nFirst start: created the Platform and a platform-admin API token.\n"+
					"It is shown once here and saved to %s (mode 0600):\n\n    %s\n\n", cfg.AdminTokenPath(), tok)
			}
			return srv.Serve(ctx, nil)
		},
	}
	config.BindFlags(cmd.Flags())
	return cmd
}

func migrateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the embedded database migrations and exit",
		Long:  "Apply the embedded migrations to the configured database (SQLite in the data directory, or --database-url). serve also migrates at start.",
		Example: `  plexsphere migrate --data-dir /var/lib/plexsphere
  plexsphere migrate --database-url postgres://plexsphere@db/plexsphere`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			db, err := store.Open(cmd.Context(), store.Config{URL: cfg.DatabaseURL, SQLitePath: cfg.SQLitePath()})
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.Migrate(cmd.Context(), newLogger(cfg, cmd.ErrOrStderr())); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "schema is up to date")
			return nil
		},
	}
	config.BindFlags(cmd.Flags())
	return cmd
}
