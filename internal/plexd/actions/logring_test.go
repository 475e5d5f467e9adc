package actions

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestLogRing(t *testing.T) {
	ring := NewLogRing(3)
	var out bytes.Buffer
	log := slog.New(ring.Handler(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo})))
	log.Debug("not enabled")
	for _, m := range []string{"one", "two", "three", "four"} {
		log.With(slog.String("node_id", "n1")).WithGroup("g").Info(m, slog.Int("n", 1))
	}
	got := ring.Lines(10)
	if len(got) != 3 || !strings.Contains(got[0], `"msg":"two"`) || !strings.Contains(got[2], `"msg":"four"`) {
		t.Fatalf("lines %q", got)
	}
	if !strings.Contains(got[2], `"node_id":"n1"`) || !strings.Contains(got[2], `"g":{"n":1}`) {
		t.Errorf("attributes lost: %s", got[2])
	}
	if strings.Contains(strings.Join(got, ""), "not enabled") || !strings.Contains(out.String(), "msg=four") {
		t.Errorf("ring %q, next handler %q", got, out.String())
	}
	if l := ring.Lines(1); len(l) != 1 || l[0] != got[2] {
		t.Errorf("newest line %q", l)
	}
	ring.Write([]byte(strings.Repeat("x", 10000)))
	if l := ring.Lines(1)[0]; len(l) != maxLogLine {
		t.Errorf("a long line kept %d bytes", len(l))
	}
}
