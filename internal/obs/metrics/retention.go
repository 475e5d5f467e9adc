package metrics

import (
	"context"
	"math"
	"sort"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/plexsphere/plexsphere/internal/every"
)

// Start runs the per-Domain retention sweep (when DomainRetention is set).
// The TSDB's own retention stays the server-wide maximum.
func (s *Service) Start() {
	if s.cfg.DomainRetention == nil || s.sweeper != nil {
		return
	}
	s.sweeper = every.Start(s.cfg.Sweep, func(ctx context.Context) error {
		_, err := s.RetentionSweep(ctx)
		return err
	}, func(err error) { s.cfg.Logger.Warn("node metrics: retention sweep", "error", err) })
}

// RetentionSweep deletes, Domain by Domain, the series samples older than
// the Domain's own retention when that is shorter than the server's
// (TSDB Delete with a domain_id matcher: tombstones now, space at the next
// compaction). It answers the Domains swept.
func (s *Service) RetentionSweep(ctx context.Context) (int, error) {
	if s.cfg.DomainRetention == nil || !s.local() {
		return 0, nil
	}
	per, err := s.cfg.DomainRetention(ctx)
	if err != nil {
		return 0, err
	}
	ids := make([]string, 0, len(per))
	for d := range per {
		ids = append(ids, d)
	}
	sort.Strings(ids)
	now := s.cfg.Now()
	n := 0
	for _, d := range ids {
		ret := per[d]
		if ret <= 0 || ret >= s.cfg.Retention {
			continue
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
		cut := now.Add(-ret).UnixMilli()
		if err := s.db.Delete(ctx, math.MinInt64, cut-1, labels.MustNewMatcher(labels.MatchEqual, LabelDomainID, d)); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
