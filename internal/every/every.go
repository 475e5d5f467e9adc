// Package every runs a background task at a fixed interval until it is
// stopped: the sweepers of the contexts (sessions, executions) share it.
package every

import (
	"context"
	"sync"
	"time"
)

// Loop is a running periodic task.
type Loop struct {
	once   sync.Once
	cancel context.CancelFunc
	done   chan struct{}
}

// Start calls run every interval (not at once) until Stop; a run's error
// goes to failed unless the loop is stopping.
func Start(interval time.Duration, run func(context.Context) error, failed func(error)) *Loop {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Loop{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := run(ctx); err != nil && ctx.Err() == nil && failed != nil {
					failed(err)
				}
			}
		}
	}()
	return l
}

// Stop ends the loop and waits for a run in progress; nil and repeated
// calls are fine.
func (l *Loop) Stop() {
	if l == nil {
		return
	}
	l.once.Do(func() {
		l.cancel()
		<-l.done
	})
}
