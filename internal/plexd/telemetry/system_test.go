package telemetry

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// copyProc copies testdata/proc into a temporary proc root.
func copyProc(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range []string{"stat", "meminfo", "loadavg", "net/dev"} {
		raw, err := os.ReadFile(filepath.Join("testdata", "proc", f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755)
		if err := os.WriteFile(filepath.Join(root, f), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestSystemCollector(t *testing.T) {
	root := copyProc(t)
	s := NewSystem(SystemOptions{ProcRoot: root, DiskPath: "/data", Disk: func(p string) (uint64, uint64, error) {
		if p != "/data" {
			t.Errorf("disk path %q", p)
		}
		return 1000, 250, nil
	}})
	now := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	ps, err := s.Collect(context.Background(), now)
	if err != nil || len(ps) != 1 {
		t.Fatalf("collect: %v %v", ps, err)
	}
	p := ps[0]
	if p.Group != "system" || !p.Timestamp.Equal(now) || p.PeerID != "" {
		t.Fatalf("point %+v", p)
	}
	want := map[string]any{
		"cpu_usage_percent":  15.0, // since boot: 1 − 8500/10000
		"memory_total_bytes": uint64(8192000000), "memory_available_bytes": uint64(6144000000), "memory_used_bytes": uint64(2048000000),
		"load1": 0.52, "load5": 0.38, "load15": 0.21,
		"disk_total_bytes": uint64(1000), "disk_used_bytes": uint64(250),
		"network_rx_bytes": uint64(1020000), "network_tx_bytes": uint64(430000), // lo left out
	}
	for k, v := range want {
		if p.Data[k] != v {
			t.Errorf("%s = %v (%T), want %v", k, p.Data[k], p.Data[k], v)
		}
	}
	if len(p.Data) != len(want) {
		t.Errorf("fields %v", p.Data)
	}
	// The next tick measures the interval only.
	next, _ := os.ReadFile(filepath.Join("testdata", "proc", "stat.next"))
	os.WriteFile(filepath.Join(root, "stat"), next, 0o644)
	ps, _ = s.Collect(context.Background(), now.Add(time.Minute))
	if got := ps[0].Data["cpu_usage_percent"]; got != 62.5 {
		t.Fatalf("cpu over the interval %v, want 62.5", got)
	}
}

func TestSystemCollectorPartial(t *testing.T) {
	root := copyProc(t)
	os.Remove(filepath.Join(root, "meminfo"))
	os.WriteFile(filepath.Join(root, "loadavg"), []byte("garbage"), 0o644)
	s := NewSystem(SystemOptions{ProcRoot: root, Disk: func(string) (uint64, uint64, error) { return 0, 0, errors.New("no disk") }})
	ps, err := s.Collect(context.Background(), time.Now())
	if err == nil || len(ps) != 1 {
		t.Fatalf("want a partial point and an error: %v %v", ps, err)
	}
	for _, k := range []string{"memory_total_bytes", "load1", "disk_total_bytes"} {
		if _, ok := ps[0].Data[k]; ok {
			t.Errorf("%s present though its source is broken", k)
		}
	}
	if ps[0].Data["cpu_usage_percent"] != 15.0 || ps[0].Data["network_rx_bytes"] != uint64(1020000) {
		t.Errorf("readable fields missing: %v", ps[0].Data)
	}
	empty := NewSystem(SystemOptions{ProcRoot: t.TempDir(), Disk: func(string) (uint64, uint64, error) { return 0, 0, errors.New("x") }})
	if ps, err := empty.Collect(context.Background(), time.Now()); err == nil || len(ps) != 0 {
		t.Fatalf("nothing readable: %v %v", ps, err)
	}
}

// TestSystemCollectorRealProc reads this host's /proc (Linux only).
func TestSystemCollectorRealProc(t *testing.T) {
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	ps, err := NewSystem(SystemOptions{}).Collect(context.Background(), time.Now())
	if err != nil || len(ps) != 1 {
		t.Fatalf("%v %v", ps, err)
	}
	cpu, _ := ps[0].Data["cpu_usage_percent"].(float64)
	total, _ := ps[0].Data["memory_total_bytes"].(uint64)
	if cpu < 0 || cpu > 100 || total == 0 || ps[0].Data["disk_total_bytes"] == nil {
		t.Fatalf("implausible: %v", ps[0].Data)
	}
}
