package authz_test

import (
	"testing"

	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/authz/authztest"
)

func TestMemTuplesCompliance(t *testing.T) {
	authztest.TestTupleReader(t, func(t *testing.T, ts []authz.Tuple) authz.TupleReader {
		m := authz.NewMemTuples()
		if err := m.Load(ts); err != nil {
			t.Fatal(err)
		}
		return m
	})
	// Built incrementally, with churn, the index must answer the same.
	authztest.TestTupleReader(t, func(t *testing.T, ts []authz.Tuple) authz.TupleReader {
		m := authz.NewMemTuples()
		for i := len(ts) - 1; i >= 0; i-- {
			if err := m.Add(ts[i]); err != nil {
				t.Fatal(err)
			}
		}
		extra, _ := authz.ParseTuple("domain:a#admin@user:gone")
		if err := m.Apply([]authz.Tuple{extra}, ts[:2]); err != nil {
			t.Fatal(err)
		}
		if err := m.Apply(ts[:2], []authz.Tuple{extra}); err != nil {
			t.Fatal(err)
		}
		return m
	})
}
