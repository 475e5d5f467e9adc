package localapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// tcpAuthorized marks a request that presented the TCP bearer token.
type tcpAuthorized struct{}

// ServeTCP serves the same API on a loopback TCP address (§12.8: optional,
// default 127.0.0.1:9100) until ctx ends. Every request needs
// "Authorization: Bearer <token>"; the token holder may read secret values,
// since peer credentials do not exist on TCP. A non-loopback address is
// refused: the API never leaves the node.
func (s *Server) ServeTCP(ctx context.Context, addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("localapi: tcp address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("localapi: tcp address %q is not a loopback IP", addr)
	}
	if len(token) < 16 {
		return errors.New("localapi: the TCP bearer token must be at least 16 characters")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("localapi: listen: %w", err)
	}
	srv := &http.Server{Handler: bearerOnly(token, s.mux), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func bearerOnly(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := nodeproto.ParseBearer(r.Header.Get("Authorization"))
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			writeErr(w, http.StatusUnauthorized, "a bearer token is required")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tcpAuthorized{}, true)))
	})
}
