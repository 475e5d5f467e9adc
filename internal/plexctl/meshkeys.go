package plexctl

import (
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

func (a *app) nodesRotateKeysCommand() *cobra.Command {
	var preview bool
	cmd := calls(&cobra.Command{
		Use:   "rotate-keys ID",
		Short: "Ask a node to rotate its WireGuard key, or preview what that touches",
		Long: `Ask a node to rotate its WireGuard key. The rotation is recorded as pending
and the node is told (agents speaking protocol level 2; the existing level-1
agent does not rotate). When the node reports its new key, every pair's
preshared key is re-issued and every peer learns the new key.

Asking again while a rotation is pending answers the pending one
(already pending: true) and sends nothing new.

--preview changes nothing: it shows the pairs a rotation would re-key,
whether one is pending and how old the node's key is.`,
		Example: `  plexctl nodes rotate-keys 0190c0de-0000-7000-8000-000000000007
  plexctl nodes rotate-keys --preview 0190c0de-0000-7000-8000-000000000007 -o json`,
		Args: exactArgs("ID"),
	}, "postNodeKeysRotate", "getNodeKeysRotatePreview")
	cmd.Flags().BoolVar(&preview, "preview", false, "show what a rotation would touch; change nothing")
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		if preview {
			p, err := c.PreviewNodeKeyRotation(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			peers := make([]string, len(p.AffectedEdges))
			for i, e := range p.AffectedEdges {
				peers[i] = e.PeerNodeID
			}
			return printFields(a, p, []field{
				{"Node", p.NodeID},
				{"Affected peers", strconv.Itoa(p.AffectedPeerCount)},
				{"Peers", strings.Join(peers, ", ")},
				{"Already pending", strconv.FormatBool(p.AlreadyPending)},
				{"Key installed", ts(p.KeyInstalledAt)},
				{"Key age (s)", strconv.FormatInt(p.KeyAgeSeconds, 10)},
				{"Estimated duration (s)", strconv.Itoa(p.EstimatedDurationSeconds)},
			})
		}
		r, err := c.RotateNodeKeys(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		return printFields(a, r, []field{
			{"Rotation", r.RotationID},
			{"Node", r.PeerID},
			{"Already pending", strconv.FormatBool(r.AlreadyPending)},
		})
	})
	return cmd
}
