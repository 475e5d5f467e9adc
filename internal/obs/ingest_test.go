package obs

import (
	"context"
	"testing"

	"github.com/plexsphere/plexsphere/internal/events"
)

type recorder struct{ kinds []string }

func (r *recorder) Ingest(_ context.Context, b events.IngestBatch) (int, error) {
	r.kinds = append(r.kinds, b.Kind)
	return 42, nil
}

func TestRouter(t *testing.T) {
	m, l := &recorder{}, &recorder{}
	r := Router{Metrics: m, Logs: l}
	for _, k := range []string{"metrics", "logs", "audit"} {
		if n, err := r.Ingest(context.Background(), events.IngestBatch{Kind: k}); n != 42 || err != nil {
			t.Fatalf("%s: %d %v", k, n, err)
		}
	}
	if len(m.kinds) != 1 || m.kinds[0] != "metrics" || len(l.kinds) != 2 || l.kinds[0] != "logs" || l.kinds[1] != "audit" {
		t.Fatalf("metrics got %v, logs got %v", m.kinds, l.kinds)
	}
	// No store: the receipt counts the records.
	var none Router
	for _, tc := range []struct {
		ct, body string
		want     int
	}{
		{"application/json", `[{},{},{}]`, 3},
		{"application/json", `null`, 0},
		{"application/x-ndjson", "{}\n\n{}\n", 2},
	} {
		if n, err := none.Ingest(context.Background(), events.IngestBatch{Kind: "logs", ContentType: tc.ct, Body: []byte(tc.body)}); n != tc.want || err != nil {
			t.Fatalf("%q: %d %v", tc.body, n, err)
		}
	}
}
