package audit

// SetParallelMin lowers the chain length from which Verify splits the work,
// so tests can exercise segmented verification on short chains.
func SetParallelMin(n int64) (restore func()) {
	old := parallelMin
	parallelMin = n
	return func() { parallelMin = old }
}

// SetHashVersion makes Append write entries under hash rule v, so tests can
// build chains written before version 2.
func SetHashVersion(v int) (restore func()) {
	old := hashCurrent
	hashCurrent = v
	return func() { hashCurrent = old }
}

// CheckpointMessage is what a checkpoint signature covers.
var CheckpointMessage = checkpointMessage
