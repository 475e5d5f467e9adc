package plexd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/plexd/agent"
	"github.com/plexsphere/plexsphere/internal/plexd/config"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
)

func TestTelemetryFromConfig(t *testing.T) {
	a := newApp(Env{})
	cl, err := cpclient.New(cpclient.Options{Server: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	rt := &meshRuntime{engine: mesh.NewMemory()}
	dir := t.TempDir()
	cfg := &config.Config{DataDir: dir, Hostname: "h", Telemetry: config.Telemetry{Disabled: true}}
	if tel, err := a.telemetry(cfg, cl, rt, a.logger(&config.Config{LogLevel: "error"})); tel != nil || err != nil {
		t.Fatalf("disabled: %v %v", tel, err)
	}
	if telemetryNode(nil) != nil {
		t.Fatal("a nil pipeline shows in status")
	}
	cfg.Telemetry = config.Telemetry{JournaldUnits: []string{"sshd"}, AuditLog: "/nonexistent/audit.log", QueueMax: 1 << 20}
	tel, err := a.telemetry(cfg, cl, rt, a.logger(&config.Config{LogLevel: "error"}))
	if err != nil || tel == nil {
		t.Fatalf("enabled: %v", err)
	}
	if st, err := os.Stat(filepath.Join(dir, "telemetry", "queue")); err != nil || !st.IsDir() {
		t.Fatalf("queue directory: %v", err)
	}
	if st := telemetryNode(tel).TelemetryStatus(); st.QueueBatches != 0 || st.DroppedRecords != 0 {
		t.Fatalf("fresh status %+v", st)
	}
}

func TestStatusShowsTelemetry(t *testing.T) {
	var buf bytes.Buffer
	printStatus(&buf, agent.Status{NodeID: "n", Connection: "connected",
		Telemetry: &agent.TelemetryStatus{QueueBatches: 3, QueueBytes: 2048, SentBatches: 40, DroppedRecords: 7}})
	if !strings.Contains(buf.String(), "Telemetry:   3 batches queued (2048 bytes), 40 sent, 7 records dropped") {
		t.Fatalf("status:\n%s", buf.String())
	}
}
