package metrics

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/plexsphere/plexsphere/internal/events"
	"github.com/plexsphere/plexsphere/internal/problem"
)

// groupAliases maps the contract's MetricSample groups onto the §12.7
// group names that make up the series names.
var groupAliases = map[string]string{
	"system": "system", "tunnel": "tunnel", "latency": "latency", "agent": "agent",
	"node_resources": "system", "tunnel_health": "tunnel", "peer_latency": "latency", "agent_stats": "agent",
}

// peerGroups carry a peer_id label.
var peerGroups = map[string]bool{"tunnel": true, "latency": true}

var fieldName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// nodeInfo is a node's server-side labels.
type nodeInfo struct {
	domainID, projectID, hostname string
}

// nodeState is one node's cached labels and recent batch keys.
type nodeState struct {
	info    nodeInfo
	fetched time.Time
	// keys is a ring of recent Idempotency-Keys and content hashes with
	// the records each batch counted.
	keys map[string]int
	ring [dedupeKeys]string
	next int
}

func (n *nodeState) remember(key string, count int) {
	if _, ok := n.keys[key]; ok {
		return
	}
	if old := n.ring[n.next]; old != "" {
		delete(n.keys, old)
	}
	n.ring[n.next] = key
	n.next = (n.next + 1) % dedupeKeys
	n.keys[key] = count
}

// sample is one decoded value with its series labels.
type sample struct {
	lset labels.Labels
	t    int64
	v    float64
}

// Ingest stores a metrics batch (events.Ingester): per-node rate and size
// limits, resends recognised by Idempotency-Key or content, every record
// validated on its own (a bad one is counted and skipped), the labels
// taken from the node's row.
func (s *Service) Ingest(ctx context.Context, b events.IngestBatch) (int, error) {
	if ok, wait := s.limiter.Allow(b.NodeID); !ok {
		s.limited.Add(1)
		secs := max(1, int(math.Ceil(wait.Seconds())))
		return 0, problem.New(http.StatusTooManyRequests, CodeRateLimited, "Too many metrics batches from this node; retry later.").
			WithHeader("Retry-After", strconv.Itoa(secs))
	}
	key := "h:" + contentHash(b.Body)
	if b.IdempotencyKey != "" {
		key = "k:" + b.IdempotencyKey
	}
	st, err := s.node(ctx, b.NodeID)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	n, dup := st.keys[key]
	s.mu.Unlock()
	if dup {
		s.duplicates.Add(1)
		return n, nil
	}
	records, err := splitRecords(b.ContentType, b.Body, s.cfg.MaxBatchRecords)
	if err != nil {
		if p := (*problem.Problem)(nil); errors.As(err, &p) && p.Status == http.StatusRequestEntityTooLarge {
			s.limited.Add(1)
		}
		return 0, err
	}
	now := s.cfg.Now()
	var out []sample
	accepted := 0
	for _, r := range records {
		got, err := decodeRecord(r, b.NodeID, st.info, now)
		if err != nil {
			s.bad.Add(1)
			continue
		}
		accepted++
		out = append(out, got...)
	}
	if err := s.append(ctx, out); err != nil {
		return 0, problem.Unavailable(CodeUnavailable, err).WithHeader("Retry-After", "5")
	}
	s.batches.Add(1)
	s.mu.Lock()
	st.remember(key, accepted)
	s.mu.Unlock()
	return accepted, nil
}

func contentHash(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

// append writes the samples in one transaction; a sample the TSDB refuses
// (older than its window, another value at the same instant) is counted.
func (s *Service) append(ctx context.Context, samples []sample) error {
	if len(samples) == 0 {
		return nil
	}
	if s.remote != nil {
		s.remote.Enqueue(samples...)
	}
	if !s.local() {
		s.samples.Add(int64(len(samples)))
		return nil
	}
	app := s.db.Appender(ctx)
	stored := 0
	for _, x := range samples {
		if _, err := app.Append(0, x.lset, x.t, x.v); err != nil {
			s.dropped.Add(1)
			continue
		}
		stored++
	}
	if err := app.Commit(); err != nil {
		return err
	}
	s.samples.Add(int64(stored))
	return nil
}

// node answers the node's cached state, reading its row when the cache is
// cold or stale.
func (s *Service) node(ctx context.Context, id string) (*nodeState, error) {
	now := s.cfg.Now()
	s.mu.Lock()
	st := s.nodes[id]
	if st != nil && now.Sub(st.fetched) < nodeCacheTTL {
		s.mu.Unlock()
		return st, nil
	}
	s.mu.Unlock()
	var info nodeInfo
	err := s.cfg.DB.QueryRowContext(ctx, `SELECT domain_id, project_id, name FROM nodes WHERE id = $1`, id).
		Scan(&info.domainID, &info.projectID, &info.hostname)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, problem.NotFound(CodeNodeNotFound, "No such node.")
	}
	if err != nil {
		return nil, problem.Unavailable(CodeUnavailable, err).WithHeader("Retry-After", "5")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st = s.nodes[id]; st == nil {
		st = &nodeState{keys: map[string]int{}}
		s.nodes[id] = st
	}
	st.info, st.fetched = info, now
	return st, nil
}

// splitRecords answers the batch's records: a JSON array (§12.7) or NDJSON
// lines; more than max records is 413.
func splitRecords(contentType string, body []byte, maxRecords int) ([]json.RawMessage, error) {
	tooMany := problem.New(http.StatusRequestEntityTooLarge, CodeBatchTooLarge,
		"The batch has more than "+strconv.Itoa(maxRecords)+" records; split it.")
	if mt, _, _ := mime.ParseMediaType(contentType); mt == "application/x-ndjson" {
		var out []json.RawMessage
		for line := range bytes.SplitSeq(body, []byte("\n")) {
			if line = bytes.TrimSpace(line); len(line) == 0 {
				continue
			}
			if len(out) == maxRecords {
				return nil, tooMany
			}
			out = append(out, json.RawMessage(line))
		}
		return out, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return nil, problem.BadRequest("invalid_request", "The body must be a JSON array.")
	}
	if tok == nil {
		return nil, nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, problem.BadRequest("invalid_request", "The body must be a JSON array.")
	}
	var out []json.RawMessage
	for dec.More() {
		if len(out) == maxRecords {
			return nil, tooMany
		}
		var r json.RawMessage
		if err := dec.Decode(&r); err != nil {
			return nil, problem.BadRequest("invalid_request", "The body must be a JSON array.")
		}
		out = append(out, r)
	}
	return out, nil
}

// record is either form: §12.7 MetricPoint {timestamp, group, peer_id?,
// data} or the contract's MetricSample {group, name, value, labels?,
// timestamp}.
type record struct {
	Timestamp time.Time         `json:"timestamp"`
	Group     string            `json:"group"`
	PeerID    string            `json:"peer_id"`
	Data      json.RawMessage   `json:"data"`
	Name      string            `json:"name"`
	Value     *float64          `json:"value"`
	Labels    map[string]string `json:"labels"`
}

var errBadRecord = errors.New("bad metric record")

// decodeRecord validates one record into samples labelled from the node's
// row; labels the node sends are dropped (a tunnel or latency record's
// peer_id excepted, checked to be an id).
func decodeRecord(raw json.RawMessage, nodeID string, info nodeInfo, now time.Time) ([]sample, error) {
	var r record
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &r) != nil {
		return nil, errBadRecord
	}
	group, ok := groupAliases[r.Group]
	if !ok || r.Timestamp.IsZero() || r.Timestamp.After(now.Add(10*time.Minute)) || r.Timestamp.Year() < 2000 {
		return nil, errBadRecord
	}
	t := r.Timestamp.UnixMilli()
	fields := map[string]float64{}
	peer := r.PeerID
	if r.Name != "" || r.Value != nil {
		if r.Value == nil || !fieldName.MatchString(r.Name) || len(r.Labels) > maxFields {
			return nil, errBadRecord
		}
		fields[r.Name] = *r.Value
		if p, ok := r.Labels[LabelPeerID]; ok && peer == "" {
			peer = p
		}
	} else {
		var data map[string]json.RawMessage
		if json.Unmarshal(r.Data, &data) != nil || len(data) == 0 || len(data) > maxFields {
			return nil, errBadRecord
		}
		for k, v := range data {
			if k == LabelPeerID {
				var p string
				if json.Unmarshal(v, &p) == nil && peer == "" {
					peer = p
				}
				continue
			}
			if !fieldName.MatchString(k) {
				continue
			}
			if f, ok := fieldValue(v); ok {
				fields[k] = f
			}
		}
	}
	if len(fields) == 0 {
		return nil, errBadRecord
	}
	var peerLabel string
	if peerGroups[group] {
		u, err := uuid.Parse(peer)
		if err != nil {
			return nil, errBadRecord
		}
		peerLabel = u.String()
	}
	out := make([]sample, 0, len(fields))
	for k, v := range fields {
		b := labels.NewScratchBuilder(7)
		b.Add(labels.MetricName, "plexd_"+group+"_"+k)
		b.Add(LabelDomainID, info.domainID)
		b.Add(LabelHostname, info.hostname)
		b.Add(LabelNodeID, nodeID)
		if peerLabel != "" {
			b.Add(LabelPeerID, peerLabel)
		}
		b.Add(LabelProjectID, info.projectID)
		b.Sort()
		out = append(out, sample{lset: b.Labels(), t: t, v: v})
	}
	return out, nil
}

// fieldValue reads a number, a bool (1/0) or an RFC 3339 time (Unix
// seconds); anything else is not a sample.
func fieldValue(v json.RawMessage) (float64, bool) {
	var f float64
	if json.Unmarshal(v, &f) == nil {
		return f, true
	}
	var b bool
	if json.Unmarshal(v, &b) == nil {
		if b {
			return 1, true
		}
		return 0, true
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			if t.IsZero() {
				return 0, true
			}
			return float64(t.UnixNano()) / 1e9, true
		}
	}
	return 0, false
}
