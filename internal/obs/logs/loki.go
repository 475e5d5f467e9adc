package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/plexsphere/plexsphere/internal/obs/push"
)

// Loki configures the optional push of node log lines to an external
// Loki (POST <URL>, normally …/loki/api/v1/push, JSON streams).
type Loki struct {
	// URL is the push endpoint; empty: off.
	URL string
	// Bearer answers the bearer token (push.BearerFile); nil: none.
	Bearer func() (string, error)
	// TenantID, when set, is sent as X-Scope-OrgID (multi-tenant Loki).
	TenantID string
	Client   *http.Client
	// Queue bounds (≤ 0: the push defaults).
	MaxQueue, MaxBatch, MaxRetries int
	FlushEvery, MinBackoff         time.Duration
}

// lokiEntry is one line with its stream labels.
type lokiEntry struct {
	stream lokiStream
	ts     int64
	line   string
}

// lokiStream is the label set of a pushed line.
type lokiStream struct {
	NodeID    string `json:"node_id"`
	Hostname  string `json:"hostname"`
	Unit      string `json:"unit"`
	Severity  string `json:"severity"`
	Source    string `json:"source"`
	DomainID  string `json:"domain_id"`
	ProjectID string `json:"project_id"`
}

// LokiStats are the push counters (lines).
type LokiStats = push.Stats

func (s *Service) startLoki() error {
	l := s.cfg.Loki
	if l.URL == "" {
		return nil
	}
	if err := push.CheckURL(l.URL); err != nil {
		return fmt.Errorf("logs: Loki push URL: %w", err)
	}
	target := push.Target{URL: l.URL, Bearer: l.Bearer, Client: l.Client}
	header := http.Header{"Content-Type": {"application/json"}, "User-Agent": {"plexsphere"}}
	if l.TenantID != "" {
		header.Set("X-Scope-OrgID", l.TenantID)
	}
	s.loki = push.New(push.Config[lokiEntry]{Name: "loki", MaxQueue: l.MaxQueue, MaxBatch: l.MaxBatch,
		MaxRetries: l.MaxRetries, FlushEvery: l.FlushEvery, MinBackoff: l.MinBackoff, Logger: s.cfg.Logger,
		Send: func(ctx context.Context, batch []lokiEntry) error {
			body, err := encodeLokiPush(batch)
			if err != nil {
				return err
			}
			return target.Post(ctx, header, body)
		}})
	return nil
}

// LokiStats answers the Loki push counters (false when off).
func (s *Service) LokiStats() (LokiStats, bool) {
	if s.loki == nil {
		return LokiStats{}, false
	}
	return s.loki.Stats(), true
}

// encodeLokiPush writes the Loki push API's JSON body:
// {"streams":[{"stream":{labels},"values":[["<unix ns>","<line>"],…]},…]},
// one stream per label set, its values in time order.
func encodeLokiPush(batch []lokiEntry) ([]byte, error) {
	type stream struct {
		Stream lokiStream  `json:"stream"`
		Values [][2]string `json:"values"`
	}
	idx := map[lokiStream]int{}
	var streams []stream
	for _, e := range batch {
		i, ok := idx[e.stream]
		if !ok {
			i = len(streams)
			idx[e.stream] = i
			streams = append(streams, stream{Stream: e.stream})
		}
		streams[i].Values = append(streams[i].Values, [2]string{strconv.FormatInt(e.ts, 10), e.line})
	}
	for _, st := range streams {
		v := st.Values
		for j := 1; j < len(v); j++ {
			for k := j; k > 0 && tsLess(v[k][0], v[k-1][0]); k-- {
				v[k], v[k-1] = v[k-1], v[k]
			}
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]any{"streams": streams}); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func tsLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}
