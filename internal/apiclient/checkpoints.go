package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// maxCheckpointExport bounds the checkpoint export read into memory (one
// checkpoint is about 400 bytes; a chain has one per N entries).
const maxCheckpointExport = 256 << 20

// AuditCheckpoints calls GET …/audit/checkpoints:export and returns the
// chain's signed checkpoints from fromSeq (all when fromSeq < 1), in seq
// order. Kept off the server, they let `plexsphere audit verify
// --checkpoints` detect a truncated or rewritten chain.
func (c *Client) AuditCheckpoints(ctx context.Context, ch Chain, fromSeq int64) ([]apiv1.AuditCheckpoint, error) {
	prefix, err := ch.prefix()
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if fromSeq > 0 {
		q.Set("from_seq", strconv.FormatInt(fromSeq, 10))
	}
	resp, err := c.send(ctx, request{method: http.MethodGet, path: prefix + "/checkpoints:export", query: q,
		accept: mediaNDJSON + ", " + mediaProblem})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return DecodeCheckpoints(io.LimitReader(resp.Body, maxCheckpointExport))
}

// DecodeCheckpoints reads checkpoints as JSON Lines, e.g. a file written by
// an earlier export. A checkpoint without a chain, a seq or a signature is
// an error naming its position.
func DecodeCheckpoints(r io.Reader) ([]apiv1.AuditCheckpoint, error) {
	dec := json.NewDecoder(r)
	out := []apiv1.AuditCheckpoint{}
	for {
		var cp apiv1.AuditCheckpoint
		err := dec.Decode(&cp)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("apiclient: audit checkpoint %d: %w", len(out)+1, err)
		}
		if cp.DomainID == "" || cp.Seq < 1 || cp.Signature == "" {
			return nil, fmt.Errorf("apiclient: audit checkpoint %d: want domain_id, seq and signature", len(out)+1)
		}
		out = append(out, cp)
	}
}
