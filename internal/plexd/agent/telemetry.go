package agent

// Telemetry is the node's telemetry pipeline (internal/plexd/telemetry)
// as Status shows it.
type Telemetry interface {
	TelemetryStatus() TelemetryStatus
}

// TelemetryStatus is the telemetry pipeline in Status.
type TelemetryStatus struct {
	// QueueBatches and QueueBytes are what waits on disk to be sent.
	QueueBatches int   `json:"queue_batches"`
	QueueBytes   int64 `json:"queue_bytes"`
	// SentBatches were accepted by the control plane since start.
	SentBatches int64 `json:"sent_batches"`
	// DroppedRecords were lost since start: evicted from the full queue,
	// dropped in memory, or refused by the control plane.
	DroppedRecords int64 `json:"dropped_records"`
}
