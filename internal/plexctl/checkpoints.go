package plexctl

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

func (a *app) auditCheckpointsCommand(cf *chainFlags) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "checkpoints",
		Short: "Export the chain's signed checkpoints as JSON Lines, for offline verification",
		Long: `Export the chain's signed checkpoints (seq, entry_hash, time, key id, public key,
Ed25519 signature) as JSON Lines, to stdout or --file. With --file, the
checkpoints already in the file are kept and only new ones are appended, so
a checkpoint removed from the server later still counts. Keep the file off
the server: "plexsphere audit verify --checkpoints FILE" then detects a chain
whose newest entries were deleted and whose head was rewound.`,
		Example: `  plexctl audit checkpoints --domain 0190c0de-… --file checkpoints.jsonl
  plexctl audit checkpoints --platform >> platform-checkpoints.jsonl`,
		Args: exactArgs(),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		if err := cf.require(); err != nil {
			return err
		}
		var have []apiv1.AuditCheckpoint
		if file != "" {
			var err error
			if have, err = readCheckpointFile(file); err != nil {
				return err
			}
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		got, err := c.AuditCheckpoints(cmd.Context(), cf.chain(), 0)
		if err != nil {
			return err
		}
		news := newCheckpoints(have, got)
		w, closeFn := a.stdout, func() error { return nil }
		if file != "" {
			f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
			if err != nil {
				return err
			}
			w, closeFn = f, f.Close
		}
		enc := json.NewEncoder(w)
		for i := range news {
			if err := enc.Encode(&news[i]); err != nil {
				closeFn()
				return err
			}
		}
		if err := closeFn(); err != nil {
			return err
		}
		fmt.Fprintf(a.stderr, "%d new checkpoint(s) of %s\n", len(news), cf.chain())
		return nil
	})
	cmd.Flags().StringVar(&file, "file", "", "append new checkpoints to this file instead of writing to stdout")
	return calls(cmd, "exportDomainAuditCheckpoints", "exportPlatformAuditCheckpoints")
}

// readCheckpointFile reads an earlier export; a missing file is empty.
func readCheckpointFile(path string) ([]apiv1.AuditCheckpoint, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cps, err := apiclient.DecodeCheckpoints(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cps, nil
}

// newCheckpoints returns the checkpoints of got not already in have (by
// chain and seq), in got's order.
func newCheckpoints(have, got []apiv1.AuditCheckpoint) []apiv1.AuditCheckpoint {
	type key struct {
		chain string
		seq   int64
	}
	seen := make(map[key]bool, len(have))
	for _, cp := range have {
		seen[key{cp.DomainID, cp.Seq}] = true
	}
	var out []apiv1.AuditCheckpoint
	for _, cp := range got {
		if !seen[key{cp.DomainID, cp.Seq}] {
			out = append(out, cp)
		}
	}
	return out
}
