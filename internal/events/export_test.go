package events

import (
	"context"
	"io"
)

// EmitRecordForBench signs and frames one entry exactly as a stream does.
func (s *Service) EmitRecordForBench(ctx context.Context, w io.Writer, seq int64, typ, id string, payload []byte) error {
	return s.emitOne(ctx, record{seq: seq, eventID: id, eventType: typ, payload: payload, domainID: "d1", keyID: "k1"}, w)
}

// Streams is the number of open streams.
func (s *Service) Streams() int { return s.hub.count() }
