package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/route"
)

// streamPoll is how often a progress stream reads the execution; the
// stream reads the database, so it follows changes made on any replica.
const streamPoll = 250 * time.Millisecond

// maxStream bounds one progress stream.
const maxStream = 15 * time.Minute

func (s *Service) registerStream(api huma.API) {
	op := route.Op(http.MethodGet, executionPath+"/events", "StreamExecution", "execution.stream", route.Operator,
		"Ours: progress of an execution as server-sent events: one `target` event per target status change, "+
			"`execution` when the aggregate changes; the stream ends once every target is final", tag)
	op.Responses = map[string]*huma.Response{"200": {Description: "text/event-stream",
		Content: map[string]*huma.MediaType{"text/event-stream": {Schema: &huma.Schema{Type: "string"}}}}}
	huma.Register(api, op, s.stream)
}

// stream serves an execution's progress.
func (s *Service) stream(ctx context.Context, in *ExecutionParams) (*huma.StreamResponse, error) {
	pid, id, err := in.ids()
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Authz.Check(ctx, "observe", "project:"+pid); err != nil {
		return nil, err
	}
	first, err := s.load(ctx, pid, id, true)
	if err != nil {
		return nil, err
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		_, w := humago.Unwrap(hctx)
		rc := http.NewResponseController(w)
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Accel-Buffering", "no")
		hctx.SetStatus(http.StatusOK)
		ctx, cancel := context.WithTimeout(hctx.Context(), maxStream)
		defer cancel()
		seen := map[string]time.Time{}
		status, seq := "", 0
		send := func(event string, v any) bool {
			raw, _ := json.Marshal(v)
			seq++
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", seq, event, raw); err != nil {
				return false
			}
			return rc.Flush() == nil
		}
		ex := first
		for {
			for _, t := range ex.Targets {
				if at, ok := seen[t.NodeID]; !ok || t.UpdatedAt.After(at) {
					seen[t.NodeID] = t.UpdatedAt
					if !send("target", t) {
						return
					}
				}
			}
			if ex.Status != status {
				status = ex.Status
				if !send("execution", apiv1.Execution{ID: ex.ID, ProjectID: ex.ProjectID, DomainID: ex.DomainID, Action: ex.Action,
					Type: ex.Type, Status: ex.Status, CreatedAt: ex.CreatedAt, UpdatedAt: ex.UpdatedAt, Targets: []apiv1.ExecutionTarget{}}) {
					return
				}
			}
			if terminal(ex.Status) {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(streamPoll):
			}
			next, err := s.load(ctx, pid, id, true)
			if err != nil {
				return
			}
			ex = next
		}
	}}, nil
}
