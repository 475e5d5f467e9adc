package agent

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"

	"github.com/plexsphere/plexsphere/internal/envelope"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// HandleEvent applies one verified envelope (§10, step 8 of §7.4). It is
// idempotent, since entries arrive at least once. Payloads that do not
// decode or validate are logged and dropped; types without a handler are
// ignored (X7).
func (a *Agent) HandleEvent(ctx context.Context, env *envelope.Envelope) {
	payload, known := nodeproto.NewEventPayload(env.EventType)
	if !known {
		a.log.LogAttrs(ctx, slog.LevelDebug, "event type ignored", slog.String(logkey.EventType, env.EventType))
		return
	}
	if err := json.Unmarshal(env.Payload, payload); err != nil {
		a.log.LogAttrs(ctx, slog.LevelWarn, "event payload dropped", slog.String(logkey.EventType, env.EventType),
			slog.String(logkey.EventID, env.EventID), slog.String(logkey.Error, err.Error()))
		return
	}
	changed, err := a.applyEvent(ctx, env.EventType, payload)
	if err != nil {
		a.log.LogAttrs(ctx, slog.LevelWarn, "event payload dropped", slog.String(logkey.EventType, env.EventType),
			slog.String(logkey.EventID, env.EventID), slog.String(logkey.Error, err.Error()))
		return
	}
	if changed {
		a.mu.Lock()
		a.eventGen++
		a.mu.Unlock()
		if err := a.apply(ctx); err != nil {
			a.log.LogAttrs(ctx, slog.LevelWarn, "applying event failed", slog.String(logkey.EventType, env.EventType), slog.String(logkey.Error, err.Error()))
			a.Trigger()
		}
	}
}

// validator is a payload with a context-free Validate.
type validator interface{ Validate() error }

// applyEvent changes the desired state; it reports whether the mesh or
// node state must be re-applied.
func (a *Agent) applyEvent(ctx context.Context, typ string, payload any) (bool, error) {
	if v, ok := payload.(validator); ok {
		if err := v.Validate(); err != nil {
			return false, err
		}
	}
	switch p := payload.(type) {
	case *nodeproto.SigningKeys:
		a.installKeys(ctx, *p, "event")
		return false, nil
	case *nodeproto.Peer:
		a.mu.Lock()
		a.desired.Peers[p.ID] = *p
		a.mu.Unlock()
		return true, nil
	case *nodeproto.PeerRemoved:
		a.mu.Lock()
		_, had := a.desired.Peers[p.PeerID]
		delete(a.desired.Peers, p.PeerID)
		a.mu.Unlock()
		return had, nil
	case *nodeproto.NodeStateUpdated:
		for i := range p.Data {
			if err := p.Data[i].Validate(); err != nil {
				return false, err
			}
		}
		a.mu.Lock()
		a.desired.Metadata = maps.Clone(p.Metadata)
		if a.desired.Metadata == nil {
			a.desired.Metadata = map[string]string{}
		}
		a.desired.Data = p.Data
		a.mu.Unlock()
		return true, nil
	case *nodeproto.RelaySession, *nodeproto.RelaySessionRevoked:
		return a.relayEvent(payload)
	case *nodeproto.SessionSetup, *nodeproto.SessionRevoked:
		return false, a.accessEvent(ctx, payload)
	case *nodeproto.ActionRequest:
		return a.actionEvent(ctx, p)
	case *nodeproto.PolicyUpdated:
		return a.applyPolicyEvent(p), nil
	case *nodeproto.NodeSecretsUpdated:
		for i := range p.SecretRefs {
			if err := p.SecretRefs[i].Validate(); err != nil {
				return false, err
			}
		}
		a.mu.Lock()
		a.desired.SecretRefs = p.SecretRefs
		a.mu.Unlock()
		return true, nil
	}
	switch typ {
	case nodeproto.EventRotateKeys:
		a.requestRotation() // E4: like the heartbeat flag
	case nodeproto.EventPolicyUpdated, nodeproto.EventBridgeConfigUpdated,
		nodeproto.EventUserAccessConfigUpdated, nodeproto.EventIngressConfigUpdated, nodeproto.EventSiteToSiteConfigUpdated:
		// Reference events: the content is in state (§10).
		a.Trigger()
	default:
		a.log.LogAttrs(ctx, slog.LevelDebug, "event has no handler yet", slog.String(logkey.EventType, typ))
	}
	return false, nil
}
