package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/audit"
	"github.com/plexsphere/plexsphere/internal/config"
	"github.com/plexsphere/plexsphere/internal/store"
)

func auditCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Work with the audit chains offline"}
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Verify audit chains straight from the database",
		Long: `Recompute every audit chain (or one) from the database, without the server
and without any key: every seq present, every prev_hash linking, every
entry_hash matching. Exits 1 naming the first bad seq of each broken chain.`,
		Example: `  plexsphere audit verify --data-dir /var/lib/plexsphere
  plexsphere audit verify --database-url postgres://… --chain 0190c0de-…  -o json`,
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
			chains := []string{}
			if c, _ := cmd.Flags().GetString("chain"); c != "" {
				chains = append(chains, c)
			} else if chains, err = audit.Chains(cmd.Context(), db); err != nil {
				return err
			}
			asJSON, _ := cmd.Flags().GetString("output")
			bad := 0
			for _, c := range chains {
				res, err := audit.Verify(cmd.Context(), db, c, 0, 0)
				if err != nil {
					return err
				}
				if !res.OK {
					bad++
				}
				printVerify(cmd, c, res, asJSON == "json")
			}
			if bad > 0 {
				return exitError{code: 1}
			}
			return nil
		},
	}
	config.BindFlags(verify.Flags())
	verify.Flags().String("chain", "", "verify only this chain (a Domain id, or 00000000-0000-0000-0000-000000000000 for the platform)")
	verify.Flags().StringP("output", "o", "text", "text or json")
	cmd.AddCommand(verify)
	return cmd
}

func printVerify(cmd *cobra.Command, chain string, res audit.Result, asJSON bool) {
	out := cmd.OutOrStdout()
	if asJSON {
		b, _ := json.Marshal(struct {
			Chain string `json:"chain"`
			audit.Result
		}{chain, res})
		fmt.Fprintln(out, string(b))
		return
	}
	if res.OK {
		fmt.Fprintf(out, "chain %s: ok (%d entries)\n", chain, res.EntriesLooked)
		return
	}
	fmt.Fprintf(out, "chain %s: BROKEN at seq %d (%s)\n", chain, res.DivergentSeq, res.Reason)
}
