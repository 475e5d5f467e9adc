package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"

	"github.com/plexsphere/plexsphere/internal/obs/push"
)

// Remote modes: where ingested samples go when a remote-write URL is set.
const (
	// ModeBoth stores samples in the embedded TSDB and remote-writes them.
	ModeBoth = "both"
	// ModeRemote only remote-writes them (the embedded TSDB stays empty;
	// queries need the query URL).
	ModeRemote = "remote"
)

// maxProxyBody bounds a proxied query answer.
const maxProxyBody = 64 << 20

// Remote configures the scale-out switch: remote-write of ingested samples
// and queries proxied to a Prometheus-compatible HTTP API.
type Remote struct {
	// WriteURL is the remote-write endpoint (…/api/v1/write); empty: off.
	WriteURL string
	// QueryURL is the base of the Prometheus HTTP API (the URL that
	// /api/v1/query is below); empty: queries run on the embedded TSDB.
	QueryURL string
	// Mode is ModeBoth (default) or ModeRemote.
	Mode string
	// Bearer answers the token sent to both (push.BearerFile).
	Bearer func() (string, error)
	// Client nil uses a client with push.DefaultTimeout.
	Client *http.Client
	// Queue bounds: MaxQueue samples waiting, MaxBatch per request (≤ 0:
	// the push defaults); FlushEvery, MinBackoff, MaxRetries likewise.
	MaxQueue, MaxBatch, MaxRetries int
	FlushEvery, MinBackoff         time.Duration
}

// RemoteStats are the remote-write counters (samples).
type RemoteStats = push.Stats

// startRemote starts the remote-write queue when configured.
func (s *Service) startRemote() error {
	r := s.cfg.Remote
	if r.Mode == "" {
		r.Mode = ModeBoth
		s.cfg.Remote.Mode = ModeBoth
	}
	if r.Mode != ModeBoth && r.Mode != ModeRemote {
		return fmt.Errorf("metrics: remote mode %q: want %s or %s", r.Mode, ModeBoth, ModeRemote)
	}
	if r.Mode == ModeRemote && (r.WriteURL == "" || r.QueryURL == "") {
		return errors.New("metrics: remote mode needs both the remote-write URL and the query URL")
	}
	for _, u := range []string{r.WriteURL, r.QueryURL} {
		if u != "" {
			if err := push.CheckURL(u); err != nil {
				return fmt.Errorf("metrics: remote URL: %w", err)
			}
		}
	}
	if r.WriteURL == "" {
		return nil
	}
	target := push.Target{URL: r.WriteURL, Bearer: r.Bearer, Client: r.Client}
	s.remote = push.New(push.Config[sample]{Name: "remote-write", MaxQueue: r.MaxQueue, MaxBatch: r.MaxBatch,
		FlushEvery: r.FlushEvery, MinBackoff: r.MinBackoff, MaxRetries: r.MaxRetries, Logger: s.cfg.Logger,
		Send: func(ctx context.Context, batch []sample) error {
			body, err := encodeWriteRequest(batch)
			if err != nil {
				return err
			}
			return target.Post(ctx, http.Header{
				"Content-Type":                      {"application/x-protobuf"},
				"Content-Encoding":                  {"snappy"},
				"User-Agent":                        {"plexsphere"},
				"X-Prometheus-Remote-Write-Version": {"0.1.0"},
			}, body)
		}})
	return nil
}

// local reports whether ingested samples go to the embedded TSDB.
func (s *Service) local() bool { return s.cfg.Remote.Mode != ModeRemote }

// RemoteStats answers the remote-write counters (zero when off).
func (s *Service) RemoteStats() (RemoteStats, bool) {
	if s.remote == nil {
		return RemoteStats{}, false
	}
	return s.remote.Stats(), true
}

// encodeWriteRequest is a snappy-compressed prompb.WriteRequest, one
// TimeSeries per label set in the batch (samples in time order).
func encodeWriteRequest(batch []sample) ([]byte, error) {
	idx := map[string]int{}
	var req prompb.WriteRequest
	for _, x := range batch {
		key := x.lset.String()
		i, ok := idx[key]
		if !ok {
			i = len(req.Timeseries)
			idx[key] = i
			ts := prompb.TimeSeries{Labels: make([]prompb.Label, 0, x.lset.Len())}
			x.lset.Range(func(l labels.Label) {
				ts.Labels = append(ts.Labels, prompb.Label{Name: l.Name, Value: l.Value})
			})
			req.Timeseries = append(req.Timeseries, ts)
		}
		ss := &req.Timeseries[i].Samples
		*ss = append(*ss, prompb.Sample{Value: x.v, Timestamp: x.t})
	}
	for i := range req.Timeseries {
		ss := req.Timeseries[i].Samples
		// Remote-write receivers want each series' samples in order.
		for j := 1; j < len(ss); j++ {
			for k := j; k > 0 && ss[k].Timestamp < ss[k-1].Timestamp; k-- {
				ss[k], ss[k-1] = ss[k-1], ss[k]
			}
		}
	}
	raw, err := req.Marshal()
	if err != nil {
		return nil, err
	}
	return snappy.Encode(nil, raw), nil
}

// proxy runs the confined expression qs on the Prometheus HTTP API at
// QueryURL and answers its status and verbatim body.
func (s *Service) proxy(ctx context.Context, qs string, tw Times) (int, []byte) {
	form := url.Values{"query": {qs}}
	path := "/api/v1/query"
	if tw.Step == 0 {
		form.Set("time", unixSeconds(tw.Start))
	} else {
		path = "/api/v1/query_range"
		form.Set("start", unixSeconds(tw.Start))
		form.Set("end", unixSeconds(tw.End))
		form.Set("step", strconv.FormatFloat(tw.Step.Seconds(), 'f', -1, 64))
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(s.cfg.Remote.QueryURL, "/")+path,
		strings.NewReader(form.Encode()))
	if err != nil {
		return http.StatusInternalServerError, errorBody("internal", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "plexsphere")
	resp, err := push.Target{Bearer: s.cfg.Remote.Bearer, Client: s.cfg.Remote.Client}.Do(req)
	if err != nil {
		return http.StatusServiceUnavailable, errorBody("unavailable", fmt.Errorf("the metrics backend is unreachable: %w", err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxProxyBody+1))
	if err != nil {
		return http.StatusBadGateway, errorBody("unavailable", fmt.Errorf("reading the metrics backend's answer: %w", err))
	}
	if len(body) > maxProxyBody {
		return http.StatusUnprocessableEntity, errorBody("execution", errors.New("the metrics backend's answer exceeds 64 MiB; narrow the query"))
	}
	return resp.StatusCode, body
}

func unixSeconds(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)
}
