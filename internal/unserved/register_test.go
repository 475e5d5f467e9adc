package unserved

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// Issue 8 item 2: a served operation always wins over its table row, even
// under other parameter names, and a row whose operation id is taken is
// skipped: registration neither panics nor serves the row twice.
func TestIssue8RegisterSkipsServedRows(t *testing.T) {
	mux := http.NewServeMux()
	api := humago.New(mux, huma.DefaultConfig("test", "v1"))
	type out struct{ Status int }
	served := func(ctx context.Context, _ *struct{}) (*out, error) { return &out{Status: http.StatusTeapot}, nil }
	huma.Register(api, huma.Operation{OperationID: "cloudNow", Method: http.MethodGet, Path: "/v1/clouds/{cloud}"}, served)
	huma.Register(api, huma.Operation{OperationID: "CreateCloud", Method: http.MethodPut, Path: "/v1/elsewhere"}, served)

	skipped := Register(api, slog.New(slog.NewTextHandler(io.Discard, nil)))
	names := map[string]bool{}
	for _, op := range skipped {
		names[op.OperationID] = true
	}
	if len(skipped) != 2 || !names["GetCloud"] || !names["CreateCloud"] {
		t.Fatalf("skipped %v, want GetCloud and CreateCloud", names)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/clouds/x", nil))
	if rec.Code != http.StatusTeapot {
		t.Fatalf("served operation answered %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPatch, "/v1/clouds/x", nil))
	if rec.Code != http.StatusNotImplemented {
		t.Fatalf("unserved sibling answered %d", rec.Code)
	}
}
