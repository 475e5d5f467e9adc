// Package version carries build information, set with -ldflags -X at release
// time and read from the Go build info otherwise.
package version

import (
	"os"
	"runtime/debug"
	"time"
)

// Set by the release build: -ldflags "-X github.com/plexsphere/plexsphere/internal/version.Version=v1.2.3 …".
var (
	Version = "dev"
	Commit  = ""
	Date    = ""
)

// Info returns version, commit and date, filling commit and date from the
// module build info when the linker did not. The date is always an RFC 3339
// UTC timestamp (GET /v1/version requires a date-time): the release stamp,
// else the VCS commit time, else the modification time of the running
// binary, else the Unix epoch.
func Info() (version, commit, date string) {
	var vcsTime string
	commit = Commit
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && commit == "":
				commit = s.Value
			case s.Key == "vcs.time":
				vcsTime = s.Value
			}
		}
	}
	if commit == "" {
		commit = "unknown"
	}
	return Version, commit, buildDate(Date, vcsTime, executableModTime)
}

// buildDate picks the first source that yields a time: the stamped date,
// the VCS time, then modTime; the Unix epoch when none does.
func buildDate(stamped, vcsTime string, modTime func() (time.Time, bool)) string {
	for _, s := range []string{stamped, vcsTime} {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t.UTC().Format(time.RFC3339)
		}
	}
	if t, ok := modTime(); ok {
		return t.UTC().Truncate(time.Second).Format(time.RFC3339)
	}
	return time.Unix(0, 0).UTC().Format(time.RFC3339)
}

// executableModTime is the modification time of the running binary.
func executableModTime() (time.Time, bool) {
	exe, err := os.Executable()
	if err != nil {
		return time.Time{}, false
	}
	fi, err := os.Stat(exe)
	if err != nil || fi.ModTime().IsZero() {
		return time.Time{}, false
	}
	return fi.ModTime(), true
}
