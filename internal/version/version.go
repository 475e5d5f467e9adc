// Package version carries build information, set with -ldflags -X at release
// time and read from the Go build info otherwise.
package version

import "runtime/debug"

// Set by the release build: -ldflags "-X github.com/plexsphere/plexsphere/internal/version.Version=v1.2.3 …".
var (
	Version = "dev"
	Commit  = ""
	Date    = ""
)

// Info returns version, commit and date, filling commit and date from the
// module build info when the linker did not.
func Info() (version, commit, date string) {
	version, commit, date = Version, Commit, Date
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && commit == "":
				commit = s.Value
			case s.Key == "vcs.time" && date == "":
				date = s.Value
			}
		}
	}
	if commit == "" {
		commit = "unknown"
	}
	if date == "" {
		date = "unknown"
	}
	return version, commit, date
}
