//go:build !linux

package authz

import "time"

// threadCPU is unavailable here; benchmarks report wall-clock percentiles only.
func threadCPU() (time.Duration, bool) { return 0, false }
