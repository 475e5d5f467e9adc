// Package backendtest is the compliance suite every secret backend passes
// (STYLE.md: pluggable backends share one suite): versioning from 1,
// check-and-set, version reads, destruction, isolation between paths,
// binary values, bounds and concurrent writers.
package backendtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/secrets/backend"
)

// Run runs the suite against fresh backends from open; each subtest gets
// its own Domain and Project ids, so one backend may serve them all.
func Run(t *testing.T, open func(t *testing.T) backend.Backend) {
	b := open(t)
	seq := 0
	path := func(name string) backend.Path {
		seq++
		return backend.Path{DomainID: fmt.Sprintf("dom%d", seq), ProjectID: fmt.Sprintf("prj%d", seq), Name: name}
	}
	ctx := context.Background()
	t.Run("versions count from 1", func(t *testing.T) {
		p := path("db-password")
		for i, v := range []string{"one", "two", "three"} {
			got, err := b.Put(ctx, p, []byte(v), backend.PutOptions{})
			if err != nil || got != int64(i+1) {
				t.Fatalf("put %d: version %d, %v", i+1, got, err)
			}
		}
		cur, err := b.Get(ctx, p, 0)
		if err != nil || string(cur.Data) != "three" || cur.Version != 3 {
			t.Fatalf("current: %q v%d %v", cur.Data, cur.Version, err)
		}
		old, err := b.Get(ctx, p, 1)
		if err != nil || string(old.Data) != "one" || old.Version != 1 {
			t.Fatalf("v1: %q v%d %v", old.Data, old.Version, err)
		}
		md, err := b.Metadata(ctx, p)
		if err != nil || md.Current != 3 || len(md.Versions) != 3 {
			t.Fatalf("metadata: %+v %v", md, err)
		}
		for i, v := range md.Versions {
			if v.Version != int64(i+1) || v.CreatedAt.IsZero() || !v.DestroyedAt.IsZero() {
				t.Errorf("metadata version %d: %+v", i, v)
			}
			if since := time.Since(v.CreatedAt); since < -time.Minute || since > time.Hour {
				t.Errorf("version %d created at %v", v.Version, v.CreatedAt)
			}
		}
	})
	t.Run("unknown paths and versions", func(t *testing.T) {
		p := path("never-written")
		if _, err := b.Get(ctx, p, 0); !errors.Is(err, backend.ErrNotFound) {
			t.Errorf("get unknown: %v, want ErrNotFound", err)
		}
		if _, err := b.Metadata(ctx, p); !errors.Is(err, backend.ErrNotFound) {
			t.Errorf("metadata unknown: %v, want ErrNotFound", err)
		}
		if _, err := b.Put(ctx, p, []byte("x"), backend.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Get(ctx, p, 7); !errors.Is(err, backend.ErrVersionNotFound) {
			t.Errorf("get v7 of a v1 secret: %v, want ErrVersionNotFound", err)
		}
	})
	t.Run("check-and-set", func(t *testing.T) {
		p := path("api-key")
		zero, one := int64(0), int64(1)
		if v, err := b.Put(ctx, p, []byte("a"), backend.PutOptions{CAS: &zero}); err != nil || v != 1 {
			t.Fatalf("create with cas 0: v%d %v", v, err)
		}
		if _, err := b.Put(ctx, p, []byte("b"), backend.PutOptions{CAS: &zero}); !errors.Is(err, backend.ErrConflict) {
			t.Errorf("second create with cas 0: %v, want ErrConflict", err)
		}
		if v, err := b.Put(ctx, p, []byte("b"), backend.PutOptions{CAS: &one}); err != nil || v != 2 {
			t.Fatalf("cas 1: v%d %v", v, err)
		}
		if _, err := b.Put(ctx, p, []byte("c"), backend.PutOptions{CAS: &one}); !errors.Is(err, backend.ErrConflict) {
			t.Errorf("stale cas 1: %v, want ErrConflict", err)
		}
		if cur, _ := b.Get(ctx, p, 0); string(cur.Data) != "b" {
			t.Errorf("a refused write changed the value to %q", cur.Data)
		}
	})
	t.Run("delete destroys every version", func(t *testing.T) {
		p := path("gone")
		b.Put(ctx, p, []byte("v1"), backend.PutOptions{})
		b.Put(ctx, p, []byte("v2"), backend.PutOptions{})
		if err := b.Delete(ctx, p); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Get(ctx, p, 1); !errors.Is(err, backend.ErrNotFound) {
			t.Errorf("get after delete: %v, want ErrNotFound", err)
		}
		if _, err := b.Metadata(ctx, p); !errors.Is(err, backend.ErrNotFound) {
			t.Errorf("metadata after delete: %v, want ErrNotFound", err)
		}
		if err := b.Delete(ctx, p); err != nil && !errors.Is(err, backend.ErrNotFound) {
			t.Errorf("second delete: %v", err)
		}
		// A name written again after deletion starts over.
		if v, err := b.Put(ctx, p, []byte("again"), backend.PutOptions{}); err != nil || v != 1 {
			t.Errorf("rewrite after delete: v%d %v", v, err)
		}
	})
	t.Run("paths are isolated", func(t *testing.T) {
		a := path("shared-name")
		c := backend.Path{DomainID: a.DomainID, ProjectID: a.ProjectID + "x", Name: a.Name}
		d := backend.Path{DomainID: a.DomainID + "x", ProjectID: a.ProjectID, Name: a.Name}
		b.Put(ctx, a, []byte("for-a"), backend.PutOptions{})
		for _, other := range []backend.Path{c, d} {
			if _, err := b.Get(ctx, other, 0); !errors.Is(err, backend.ErrNotFound) {
				t.Errorf("%s sees %s: %v", other, a, err)
			}
		}
		b.Put(ctx, c, []byte("for-c"), backend.PutOptions{})
		if got, _ := b.Get(ctx, a, 0); string(got.Data) != "for-a" {
			t.Errorf("a write to %s changed %s to %q", c, a, got.Data)
		}
	})
	t.Run("binary and large values", func(t *testing.T) {
		p := path("blob")
		for _, size := range []int{0, 1, 4096, backend.MaxValue} {
			val := make([]byte, size)
			rand.Read(val)
			v, err := b.Put(ctx, p, val, backend.PutOptions{})
			if err != nil {
				t.Fatalf("put %d bytes: %v", size, err)
			}
			got, err := b.Get(ctx, p, v)
			if err != nil || !bytes.Equal(got.Data, val) {
				t.Fatalf("%d bytes round trip: %d bytes back, %v", size, len(got.Data), err)
			}
		}
	})
	t.Run("bad paths are refused", func(t *testing.T) {
		for _, p := range []backend.Path{
			{DomainID: "d", ProjectID: "p", Name: "../escape"},
			{DomainID: "d/..", ProjectID: "p", Name: "ok"},
			{DomainID: "d", ProjectID: "p?x=1", Name: "ok"},
			{DomainID: "d", ProjectID: "p", Name: "Upper"},
		} {
			if _, err := b.Put(ctx, p, []byte("x"), backend.PutOptions{}); err == nil {
				t.Errorf("put to %q succeeded", p)
			}
		}
	})
	t.Run("concurrent writers get distinct versions", func(t *testing.T) {
		p := path("contended")
		const writers = 8
		var mu sync.Mutex
		seen := map[int64]bool{}
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				v, err := b.Put(ctx, p, []byte(fmt.Sprintf("w%d", i)), backend.PutOptions{})
				if err != nil {
					t.Errorf("writer %d: %v", i, err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if seen[v] {
					t.Errorf("version %d given twice", v)
				}
				seen[v] = true
			})
		}
		wg.Wait()
		if md, err := b.Metadata(ctx, p); err != nil || md.Current != writers {
			t.Errorf("after %d writers: current %d, %v", writers, md.Current, err)
		}
	})
}
