package logs

import (
	"context"

	"github.com/plexsphere/plexsphere/internal/events"
)

// StoreForBench stores a batch without the rate limit (benchmarks).
func (s *Service) StoreForBench(ctx context.Context, b events.IngestBatch) (int, error) {
	return s.store(ctx, b)
}

// SweepStatements is how many retention deletes ran.
func (s *Service) SweepStatements() int64 { return s.sweepStatements.Load() }
