package cptest

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/plexsphere/plexsphere/internal/envelope"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

func gzipReader(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }

// events serves §6: replay after a retained Last-Event-ID (L4), else the
// live head (L5, L6); each entry signed at emission with the key recorded
// at append while it is still trusted, else the current key (K5).
func (s *Server) events(w http.ResponseWriter, r *http.Request, n *node) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	s.mu.Lock()
	s.streams[r] = streamHandle{cancel: cancel, done: done}
	next := uint64(len(n.log)) + 1
	last := r.Header.Get(nodeproto.HeaderLastEventID)
	if seq, err := strconv.ParseUint(last, 10, 64); err == nil && seq >= 1 && seq <= uint64(len(n.log)) {
		next = seq + 1
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.streams, r)
		s.mu.Unlock()
	}()
	send(s.Connects, Connect{NodeID: n.id, LastEventID: last, Header: r.Header.Clone()})

	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", nodeproto.ContentTypeEventStream)
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	envelope.WriteComment(w, "connected")
	fl.Flush()
	for {
		s.mu.Lock()
		pending := append([]entry(nil), n.log[min(next-1, uint64(len(n.log))):]...)
		changed := s.changed
		s.mu.Unlock()
		for _, e := range pending {
			if ctx.Err() != nil {
				return
			}
			if err := s.writeEntry(ctx, w, e); err != nil {
				return
			}
			next = e.seq + 1
		}
		fl.Flush()
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-time.After(s.ka):
			if envelope.WriteComment(w, "keepalive") != nil {
				return
			}
			fl.Flush()
		}
	}
}

func (s *Server) writeEntry(ctx context.Context, w io.Writer, e entry) error {
	id := strconv.FormatUint(e.seq, 10)
	if e.raw != nil {
		_, err := io.WriteString(w, "id: "+id+"\ndata: "+string(e.raw)+"\n\n")
		return err
	}
	s.mu.Lock()
	sg := s.current
	if e.key == s.current || (e.key == s.previous && s.now().Before(s.deadline)) {
		sg = e.key
	}
	s.mu.Unlock()
	env, err := sg.Sign(ctx, e.ev)
	if err != nil {
		return err
	}
	f, err := envelope.EnvelopeFrame(e.seq, &env)
	if err != nil {
		return err
	}
	return envelope.WriteFrame(w, f)
}
