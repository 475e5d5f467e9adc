package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/config"
	"github.com/plexsphere/plexsphere/internal/secrets/embedded"
	"github.com/plexsphere/plexsphere/internal/store"
)

func secretsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Maintain the embedded secret store's key-encryption keys",
	}
	cmd.AddCommand(rotateKEKCommand(), dropUnusedKEKsCommand())
	return cmd
}

func rotateKEKCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rotate-kek",
		Short: "Make a new key-encryption key active and re-wrap every data key under it",
		Long: `Put a fresh key first in the KEK file (kek_file, default <data-dir>/secrets-kek)
and re-wrap the data key of every stored secret version under it, 500 rows
per transaction. Values are not re-encrypted, and running servers keep
serving: they pick the new key up from the file.

A server that wrote a value under the old key while this ran leaves that
row under it ("remaining" below); run the command again, or with
--rewrap-only, to move it. Once no row is left under an old key,
"plexsphere secrets drop-unused-keks" removes it from the file.

With PLEXSPHERE_KEK set the keys are not in a file this command can
change: put a new key first in PLEXSPHERE_KEK on every server, restart
them, then run "rotate-kek --rewrap-only" with that PLEXSPHERE_KEK.

Progress goes to stderr; -o json prints the result on stdout. Exits 1
when a row could not be re-wrapped (its key is missing or wrong).`,
		Example: `  plexsphere secrets rotate-kek --data-dir /var/lib/plexsphere
  plexsphere secrets rotate-kek --database-url postgres://plexsphere@db/plexsphere --kek-file /etc/plexsphere/secrets-kek -o json
  PLEXSPHERE_KEK="$(cat new-and-old-keys)" plexsphere secrets rotate-kek --rewrap-only --data-dir /var/lib/plexsphere`,
		Args: cobra.NoArgs,
		RunE: runRotateKEK,
	}
	config.BindFlags(cmd.Flags())
	cmd.Flags().StringP("output", "o", "text", "text or json")
	cmd.Flags().Bool("rewrap-only", false, "re-wrap under the current active key without adding one (after a late write, or with PLEXSPHERE_KEK)")
	return cmd
}

func runRotateKEK(cmd *cobra.Command, _ []string) error {
	cfg, asJSON, err := secretsConfig(cmd)
	if err != nil {
		return err
	}
	env := os.Getenv(embedded.EnvKEK)
	rewrapOnly, _ := cmd.Flags().GetBool("rewrap-only")
	if env != "" && !rewrapOnly {
		return fmt.Errorf("%s is set, so the keys are not in a file this command can change: put a new key first in %s on every server, restart them, then run rotate-kek --rewrap-only", embedded.EnvKEK, embedded.EnvKEK)
	}
	if env == "" {
		if err := kekFileExists(cfg.KEKFile); err != nil {
			return err
		}
	}
	db, err := store.Open(cmd.Context(), store.Config{URL: cfg.DatabaseURL, SQLitePath: cfg.SQLitePath()})
	if err != nil {
		return err
	}
	defer db.Close()
	progress := func(done, total int) { fmt.Fprintf(cmd.ErrOrStderr(), "re-wrapped %d/%d\n", done, total) }
	var res embedded.RotateResult
	if rewrapOnly {
		keks, err := embedded.LoadKEKs(cfg.KEKFile, env)
		if err != nil {
			return err
		}
		res, err = embedded.Rewrap(cmd.Context(), db, keks, progress)
		if err != nil {
			return err
		}
	} else if res, err = embedded.RotateKEK(cmd.Context(), db, cfg.KEKFile, progress); err != nil {
		return err
	}
	printRotate(cmd.OutOrStdout(), res, asJSON)
	if res.Unreadable > 0 {
		return fmt.Errorf("%d stored secret versions could not be re-wrapped: their KEK is missing from the key set or is not the key that wrapped them; they stay unreadable (restore the key from a backup of the KEK file)", res.Unreadable)
	}
	return nil
}

func printRotate(out io.Writer, res embedded.RotateResult, asJSON bool) {
	if asJSON {
		json.NewEncoder(out).Encode(res)
		return
	}
	fmt.Fprintf(out, "active KEK %s: re-wrapped %d data keys\n", res.Active, res.Rewrapped)
	if len(res.Remaining) == 0 {
		return
	}
	fmt.Fprintln(out, "rows still under older keys:")
	ids := make([]string, 0, len(res.Remaining))
	for id := range res.Remaining {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		note := ""
		if res.Remaining[id] == 0 {
			note = " (unused: drop-unused-keks removes it)"
		}
		fmt.Fprintf(out, "  %s %d%s\n", id, res.Remaining[id], note)
	}
}

func dropUnusedKEKsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "drop-unused-keks",
		Short: "Remove from the KEK file the old keys no stored secret uses",
		Long: `Remove from the KEK file (kek_file, default <data-dir>/secrets-kek) every
key but the active one that no stored secret version is wrapped under any
more. Run it a few seconds after "rotate-kek" reported no rows left under
the old keys, so that every server writes under the new key.

With PLEXSPHERE_KEK set there is no file to change: remove the old keys
from PLEXSPHERE_KEK by hand once "rotate-kek --rewrap-only -o json" shows
no row left under them.`,
		Example: `  plexsphere secrets drop-unused-keks --data-dir /var/lib/plexsphere
  plexsphere secrets drop-unused-keks --database-url postgres://plexsphere@db/plexsphere -o json`,
		Args: cobra.NoArgs,
		RunE: runDropUnusedKEKs,
	}
	config.BindFlags(cmd.Flags())
	cmd.Flags().StringP("output", "o", "text", "text or json")
	return cmd
}

func runDropUnusedKEKs(cmd *cobra.Command, _ []string) error {
	cfg, asJSON, err := secretsConfig(cmd)
	if err != nil {
		return err
	}
	if os.Getenv(embedded.EnvKEK) != "" {
		return fmt.Errorf("%s is set, so there is no key file to change: remove the unused keys from %s by hand", embedded.EnvKEK, embedded.EnvKEK)
	}
	if err := kekFileExists(cfg.KEKFile); err != nil {
		return err
	}
	db, err := store.Open(cmd.Context(), store.Config{URL: cfg.DatabaseURL, SQLitePath: cfg.SQLitePath()})
	if err != nil {
		return err
	}
	defer db.Close()
	dropped, err := embedded.DropUnusedKEKs(cmd.Context(), db, cfg.KEKFile)
	if err != nil {
		return err
	}
	keks, err := embedded.LoadKEKs(cfg.KEKFile, "")
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if asJSON {
		return json.NewEncoder(out).Encode(struct {
			Dropped []string `json:"dropped"`
			Kept    []string `json:"kept"`
		}{append([]string{}, dropped...), keks.IDs()})
	}
	if len(dropped) == 0 {
		fmt.Fprintf(out, "no unused KEK to drop; keys: %s\n", strings.Join(keks.IDs(), ", "))
		return nil
	}
	fmt.Fprintf(out, "dropped %d unused KEKs: %s; keys left: %s\n", len(dropped), strings.Join(dropped, ", "), strings.Join(keks.IDs(), ", "))
	return nil
}

// secretsConfig loads the configuration serve uses and the -o flag.
func secretsConfig(cmd *cobra.Command) (config.Config, bool, error) {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return cfg, false, err
	}
	switch o, _ := cmd.Flags().GetString("output"); o {
	case "text":
		return cfg, false, nil
	case "json":
		return cfg, true, nil
	default:
		return cfg, false, fmt.Errorf("-o: want text or json, got %q", o)
	}
}

// kekFileExists refuses to work on a KEK file that is not there (a wrong
// --data-dir or --kek-file); serve creates it on its first start.
func kekFileExists(path string) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no KEK file at %s: check --data-dir or --kek-file (serve creates it on its first start)", path)
	} else if err != nil {
		return err
	}
	return nil
}
