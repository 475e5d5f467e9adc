package cpclient

import (
	"context"
	"net/http"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Snapshot fetches the node's state like State and keeps the contract's
// members beside the level-1 ones (the policy block among them).
func (c *Client) Snapshot(ctx context.Context) (*nodeproto.StateSnapshot, error) {
	st := &nodeproto.StateSnapshot{}
	if err := c.nodeCall(ctx, "state", http.MethodGet, "state", nil, st); err != nil {
		return nil, err
	}
	return st, nil
}
