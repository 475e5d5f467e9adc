//go:build !unix

package telemetry

import "errors"

// statfsUsage has no statfs(2) to call here.
func statfsUsage(string) (uint64, uint64, error) {
	return 0, 0, errors.New("disk usage not supported on this system")
}
