package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// KeyRotator reports a new WireGuard key (§5.2 endpoint 9) and tells the
// negotiated protocol level. *cpclient.Client implements it.
type KeyRotator interface {
	RotateKey(ctx context.Context, req nodeproto.KeyRotateRequest) (*nodeproto.KeyRotateResponse, error)
	Level() int
}

// requestRotation marks a WireGuard key rotation as wanted (rotate_keys
// event or heartbeat flag) and wakes the reconcile loop, which runs it.
func (a *Agent) requestRotation() {
	a.mu.Lock()
	a.rotateWanted = true
	a.mu.Unlock()
	a.Trigger()
}

// rotateIfWanted runs a wanted or interrupted rotation.
func (a *Agent) rotateIfWanted(ctx context.Context) {
	a.mu.Lock()
	wanted := a.rotateWanted || a.id.PendingPrivateKey != ""
	a.rotateWanted = false
	a.mu.Unlock()
	if !wanted {
		return
	}
	if err := a.RotateKey(ctx); err != nil && ctx.Err() == nil {
		a.log.LogAttrs(ctx, slog.LevelWarn, "wireguard key rotation failed", slog.String(logkey.Error, err.Error()))
	}
}

// RotateKey rotates the node's WireGuard key (level 2, §12.1): a new key is
// saved as pending first, reported to the control plane, then promoted and
// applied with the complete peer set the control plane returns. A crash
// after the report retries with the same pending key, which is idempotent.
// At level 1 it does nothing: the existing agent merely reconciles.
func (a *Agent) RotateKey(ctx context.Context) error {
	r := a.opts.Rotator
	if r == nil || r.Level() < nodeproto.Level2 {
		a.log.LogAttrs(ctx, slog.LevelInfo, "wireguard key rotation needs protocol level 2; reconciling instead")
		a.Trigger()
		return nil
	}
	a.mu.Lock()
	id := a.id
	a.mu.Unlock()
	if id.PendingPrivateKey == "" {
		kp, err := identity.NewKeyPair(nil)
		if err != nil {
			return err
		}
		id.PendingPrivateKey = kp.Private
		if err := a.saveIdentity(&id); err != nil {
			return fmt.Errorf("saving the pending key: %w", err)
		}
	}
	pub, err := identity.PublicKeyOf(id.PendingPrivateKey)
	if err != nil {
		return err
	}
	resp, err := r.RotateKey(ctx, nodeproto.KeyRotateRequest{NodeID: id.NodeID, NewPublicKey: pub})
	// Refused for good (invalid or unchanged key, no rotation pending, key
	// held by another node, another node's id): keep the current key.
	if cpclient.IsStatus(err, http.StatusBadRequest, http.StatusForbidden, http.StatusConflict,
		http.StatusUnprocessableEntity) {
		id.PendingPrivateKey = ""
		a.saveIdentity(&id)
		return err
	}
	if err != nil {
		a.mu.Lock()
		a.rotateWanted = true // retried on the next cycle with the same key
		a.mu.Unlock()
		return err
	}
	id.PrivateKey, id.PublicKey, id.PendingPrivateKey = id.PendingPrivateKey, pub, ""
	if err := a.saveIdentity(&id); err != nil {
		return fmt.Errorf("saving the rotated key: %w", err)
	}
	a.mu.Lock()
	for _, p := range resp.UpdatedPeers {
		if p.Validate() == nil {
			a.desired.Peers[p.ID] = p
		}
	}
	a.eventGen++
	a.mu.Unlock()
	a.log.LogAttrs(ctx, slog.LevelInfo, "wireguard key rotated", slog.String(logkey.PublicKey, pub))
	return a.apply(ctx)
}

// saveIdentity persists id and makes it the agent's identity.
func (a *Agent) saveIdentity(id *identity.Identity) error {
	if err := a.opts.Store.Save(id); err != nil {
		return err
	}
	a.mu.Lock()
	a.id = *id
	a.mu.Unlock()
	return nil
}
