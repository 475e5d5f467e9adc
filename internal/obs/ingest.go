// Package obs routes the nodes' telemetry batches (POST
// /v1/nodes/{id}/metrics, …/logs, …/audit) to their stores: metrics to the
// embedded TSDB (internal/obs/metrics), logs and host audit events to the
// logs store (internal/obs/logs).
package obs

import (
	"bytes"
	"context"
	"encoding/json"
	"mime"

	"github.com/plexsphere/plexsphere/internal/events"
)

// Metrics stores metrics batches (metrics.Service).
type Metrics interface {
	Ingest(ctx context.Context, b events.IngestBatch) (int, error)
}

// Logs stores logs and audit batches (logs.Service).
type Logs interface {
	Ingest(ctx context.Context, b events.IngestBatch) (int, error)
}

// Router is the event plane's events.Ingester. A nil store accepts and
// counts its batches without keeping them (the receipt only).
type Router struct {
	Metrics Metrics
	Logs    Logs
}

var _ events.Ingester = Router{}

// Ingest implements events.Ingester.
func (r Router) Ingest(ctx context.Context, b events.IngestBatch) (int, error) {
	switch b.Kind {
	case "metrics":
		if r.Metrics != nil {
			return r.Metrics.Ingest(ctx, b)
		}
	case "logs", "audit":
		if r.Logs != nil {
			return r.Logs.Ingest(ctx, b)
		}
	}
	return countRecords(b)
}

// countRecords is the receipt of a batch nobody stores: the event plane
// has already checked its shape.
func countRecords(b events.IngestBatch) (int, error) {
	if mt, _, _ := mime.ParseMediaType(b.ContentType); mt == "application/x-ndjson" {
		n := 0
		for line := range bytes.SplitSeq(b.Body, []byte("\n")) {
			if len(bytes.TrimSpace(line)) > 0 {
				n++
			}
		}
		return n, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(b.Body, &items); err != nil {
		return 0, nil
	}
	return len(items), nil
}
