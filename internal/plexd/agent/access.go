package agent

import (
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// Access is the node's access listener (internal/plexd/access.Server):
// session_setup registers a session, session_revoked ends it.
type Access interface {
	Setup(nodeproto.SessionSetup)
	Revoke(sessionID string)
}

// AccessStatus is the access listener in Status.
type AccessStatus struct {
	// Port is the listener's TCP port on the mesh IP (0: disabled).
	Port int `json:"port"`
	// Sessions are the registered sessions neither expired nor revoked.
	Sessions int `json:"sessions"`
	// Connections are the live ssh/tcp connections and k8s calls.
	Connections int `json:"connections"`
}

// accessStatuser is an Access that also reports its status.
type accessStatuser interface {
	AccessStatus() AccessStatus
}

// accessEvent hands session_setup and session_revoked to the access
// listener; without one they are ignored.
func (a *Agent) accessEvent(ctx context.Context, payload any) error {
	switch p := payload.(type) {
	case *nodeproto.SessionSetup:
		if err := p.Validate(a.clk.Now()); err != nil {
			return err
		}
		if a.opts.Access == nil {
			a.log.LogAttrs(ctx, slog.LevelDebug, "session_setup ignored: no access listener", slog.String(logkey.EventType, nodeproto.EventSessionSetup))
			return nil
		}
		a.opts.Access.Setup(*p)
	case *nodeproto.SessionRevoked:
		if !nodeproto.ValidID(p.SessionID) {
			return errors.New("session_revoked: session_id is not an ID")
		}
		if a.opts.Access != nil {
			a.opts.Access.Revoke(p.SessionID)
		}
	}
	return nil
}

// accessStatus is the listener's status, nil without one.
func (a *Agent) accessStatus() *AccessStatus {
	if s, ok := a.opts.Access.(accessStatuser); ok {
		st := s.AccessStatus()
		return &st
	}
	return nil
}

// SigningPublicKeys are the Domain signing keys the agent trusts now:
// the current key and, while its transition is live, the previous one
// (what installKeys installed). The access listener verifies session
// tokens with them.
func (a *Agent) SigningPublicKeys() []ed25519.PublicKey {
	ks := a.verifier.Keys()
	out := []ed25519.PublicKey{ks.Current.Public}
	if ks.Previous.Public != nil && a.clk.Now().Before(ks.TransitionExpires) {
		out = append(out, ks.Previous.Public)
	}
	return out
}
