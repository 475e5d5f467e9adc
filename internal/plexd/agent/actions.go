package agent

import (
	"context"
	"log/slog"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// Actions runs action_request executions (internal/plexd/actions.Executor):
// Submit acks or rejects the request and runs it in the background,
// without blocking the event stream.
type Actions interface {
	Submit(ctx context.Context, req nodeproto.ActionRequest)
}

// actionEvent hands a validated action_request to the executor; without
// one it is ignored (no ack: the control plane times the execution out).
// It never changes the desired state.
func (a *Agent) actionEvent(ctx context.Context, req *nodeproto.ActionRequest) (bool, error) {
	if a.opts.Actions == nil {
		a.log.LogAttrs(ctx, slog.LevelDebug, "action_request ignored: no executor", slog.String(logkey.EventType, nodeproto.EventActionRequest))
		return false, nil
	}
	a.opts.Actions.Submit(ctx, *req)
	return false, nil
}
