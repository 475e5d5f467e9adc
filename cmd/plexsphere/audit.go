package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"

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
entry_hash matching. Exits 1 naming the first bad seq of each broken chain.

A hash chain alone cannot show that its newest entries were deleted and its
head rewound, nor that it was recomputed from some entry on. --checkpoints
reads a file of signed checkpoints exported earlier and kept off this host
("plexctl audit checkpoints --domain ID --file F"): every signature must
verify, and every chain must still hold each checkpointed seq with its
entry_hash. The keys come from the file, never from the database; --keys
pins them (a saved answer of GET /v1/domains/{id}/signing-keys, or JSON
Lines of {kid, public_key}).`,
		Example: `  plexsphere audit verify --data-dir /var/lib/plexsphere
  plexsphere audit verify --database-url postgres://… --chain 0190c0de-…  -o json
  plexsphere audit verify --data-dir /var/lib/plexsphere --checkpoints audit-checkpoints.jsonl --keys keys.json`,
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
			cps, keys, err := readCheckpointFlags(cmd)
			if err != nil {
				return err
			}
			chains := []string{}
			only, _ := cmd.Flags().GetString("chain")
			if only != "" {
				chains = append(chains, only)
			} else if chains, err = audit.Chains(cmd.Context(), db); err != nil {
				return err
			}
			if only == "" {
				for _, cp := range cps { // a checkpointed chain that is gone is broken
					if !slices.Contains(chains, cp.DomainID) {
						chains = append(chains, cp.DomainID)
					}
				}
			}
			asJSON, _ := cmd.Flags().GetString("output")
			bad := 0
			for _, c := range chains {
				res, err := audit.VerifyWithCheckpoints(cmd.Context(), db, c, cps, keys)
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
	verify.Flags().String("checkpoints", "", "JSON Lines file of signed checkpoints exported earlier; detects truncated or rewritten chains")
	verify.Flags().String("keys", "", "pin the checkpoint keys: a JSON file of {kid, public_key} (needs --checkpoints)")
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

// readCheckpointFlags reads --checkpoints and --keys; no file means no
// checkpoints and no pinned keys.
func readCheckpointFlags(cmd *cobra.Command) ([]audit.Checkpoint, audit.Keys, error) {
	cpPath, _ := cmd.Flags().GetString("checkpoints")
	keysPath, _ := cmd.Flags().GetString("keys")
	if cpPath == "" {
		if keysPath != "" {
			return nil, nil, fmt.Errorf("--keys needs --checkpoints")
		}
		return nil, nil, nil
	}
	f, err := os.Open(cpPath)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	cps, err := audit.ReadCheckpoints(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", cpPath, err)
	}
	if keysPath == "" {
		return cps, nil, nil
	}
	kf, err := os.Open(keysPath)
	if err != nil {
		return nil, nil, err
	}
	defer kf.Close()
	keys, err := audit.ReadKeys(kf)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keysPath, err)
	}
	return cps, keys, nil
}
