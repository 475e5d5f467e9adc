package version

import (
	"testing"
	"time"
)

// Issue 8 row "GET /v1/version": the date is always an RFC 3339 date-time:
// the stamp, else the VCS time, else the binary's mtime, else the epoch —
// never "unknown".
func TestIssue8BuildDate(t *testing.T) {
	mtime := func() (time.Time, bool) { return time.Date(2026, 3, 4, 5, 6, 7, 890, time.FixedZone("x", 3600)), true }
	none := func() (time.Time, bool) { return time.Time{}, false }
	cases := []struct {
		name, stamped, vcs string
		mod                func() (time.Time, bool)
		want               string
	}{
		{"stamped", "2025-01-02T03:04:05Z", "2024-01-01T00:00:00Z", mtime, "2025-01-02T03:04:05Z"},
		{"stamped with offset", "2025-01-02T04:04:05+01:00", "", none, "2025-01-02T03:04:05Z"},
		{"bad stamp falls back to vcs", "yesterday", "2024-01-01T00:00:00Z", mtime, "2024-01-01T00:00:00Z"},
		{"vcs", "", "2024-01-01T00:00:00Z", mtime, "2024-01-01T00:00:00Z"},
		{"mtime", "", "", mtime, "2026-03-04T04:06:07Z"},
		{"epoch", "", "", none, "1970-01-01T00:00:00Z"},
	}
	for _, c := range cases {
		if got := buildDate(c.stamped, c.vcs, c.mod); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if _, _, d := Info(); d == "unknown" {
		t.Fatal("Info still reports an unknown date")
	} else if _, err := time.Parse(time.RFC3339, d); err != nil {
		t.Fatalf("Info date %q: %v", d, err)
	}
}
