//go:build unix

package plexctl

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// notifyResize delivers a value on every SIGWINCH until ctx ends.
func notifyResize(ctx context.Context) <-chan struct{} {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGWINCH)
	out := make(chan struct{}, 1)
	go func() {
		defer signal.Stop(sig)
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case <-sig:
				select {
				case out <- struct{}{}:
				default: // one pending resize is enough: the size is read when it is sent
				}
			}
		}
	}()
	return out
}
