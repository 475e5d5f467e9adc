package plexd

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/plexd/agent"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n got:\n%s\nwant:\n%s", name, got, want)
	}
}

// TestStatusOutputGolden pins `plexd status` text output.
func TestStatusOutputGolden(t *testing.T) {
	handshake := time.Date(2026, 5, 1, 12, 0, 3, 0, time.UTC)
	st := agent.Status{
		NodeID: "01a2-node", MeshIP: "100.64.0.2", Mode: "node", Backend: "memory", Connection: "connected",
		Uptime: "1h2m3s", LastEventID: "42",
		Peers: []agent.PeerStatus{
			{ID: "01a2-peer-a", MeshIP: "100.64.0.3", Endpoint: "198.51.100.7:51820", AllowedIPs: []string{"100.64.0.3/32"},
				Path: "direct", LastHandshake: &handshake},
			{ID: "01a2-peer-b", MeshIP: "100.64.0.4", AllowedIPs: []string{"100.64.0.4/32", "10.20.0.0/16"}},
		},
	}
	var buf bytes.Buffer
	printStatus(&buf, st)
	golden(t, "status.txt", buf.Bytes())
	buf.Reset()
	printStatus(&buf, agent.Status{NodeID: "01a2-node", MeshIP: "100.64.0.2", Mode: "node", Backend: "none", Connection: ConnNotRunning})
	golden(t, "status-not-running.txt", buf.Bytes())
}
