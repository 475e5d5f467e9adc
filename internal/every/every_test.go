package every

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestLoopRunsUntilStopped(t *testing.T) {
	var runs, failures atomic.Int64
	l := Start(5*time.Millisecond, func(context.Context) error {
		if runs.Add(1)%2 == 0 {
			return errors.New("even")
		}
		return nil
	}, func(error) { failures.Add(1) })
	time.Sleep(60 * time.Millisecond)
	l.Stop()
	l.Stop()
	n := runs.Load()
	if n < 3 || failures.Load() == 0 {
		t.Fatalf("%d runs, %d failures", n, failures.Load())
	}
	time.Sleep(20 * time.Millisecond)
	if runs.Load() != n {
		t.Fatal("the loop ran after Stop")
	}
	var nilLoop *Loop
	nilLoop.Stop()
}
