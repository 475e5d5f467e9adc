package audit

// SetParallelMin lowers the chain length from which Verify splits the work,
// so tests can exercise segmented verification on short chains.
func SetParallelMin(n int64) (restore func()) {
	old := parallelMin
	parallelMin = n
	return func() { parallelMin = old }
}
