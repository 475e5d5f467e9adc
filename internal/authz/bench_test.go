package authz

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// The benchmark tenancy: 10 domains × 10 projects × 500 resources (50,000
// resources), a node for every fifth resource, 5,000 users in nested project
// groups (some cyclic), and direct resource grants: just over 100,000 tuples.
const (
	benchDomains   = 10
	benchProjects  = 10 // per domain
	benchResources = 500
	benchUsers     = 5000
)

type benchQuery struct {
	subject  SubjectRef
	perm     string
	resource ObjectRef
}

type benchData struct {
	engine  *Engine
	tuples  int
	queries []benchQuery
	lookup  SubjectRef // reaches 10,000 resources
}

var (
	benchOnce sync.Once
	benchSet  *benchData
)

func benchFixture(b *testing.B) *benchData {
	b.Helper()
	benchOnce.Do(func() { benchSet = buildBench() })
	return benchSet
}

// benchBuilder accumulates the benchmark's tuples.
type benchBuilder struct {
	ts        []Tuple
	resources []ObjectRef
	nodes     []ObjectRef
}

func (bb *benchBuilder) add(res ObjectRef, rel string, s SubjectRef) {
	bb.ts = append(bb.ts, Tuple{Resource: res, Relation: rel, Subject: s})
}

func benchUser(i int) SubjectRef { return ObjectRef{TypeUser, fmt.Sprintf("u%d", i)}.Subject() }

func benchGroup(name string) ObjectRef { return ObjectRef{TypeGroup, name} }

func buildBench() *benchData {
	r := rand.New(rand.NewPCG(1, 2))
	bb := &benchBuilder{}
	bb.add(Platform, "admin", benchGroup("platform-admins").Userset("member"))
	bb.add(benchGroup("platform-admins"), "member", benchUser(0))
	// The lookup user: inner ⊂ outer, outer administers domains d0 and d1.
	bb.add(benchGroup("lk-inner"), "member", ObjectRef{TypeUser, "lookup"}.Subject())
	bb.add(benchGroup("lk-outer"), "member", benchGroup("lk-inner").Userset("member"))
	for d := range benchDomains {
		bb.domain(d)
	}
	for u := range benchUsers {
		for range 2 {
			d, p := r.IntN(benchDomains), r.IntN(benchProjects)
			role := []string{"admin", "operator", "oncall", "viewer", "viewer"}[r.IntN(5)]
			bb.add(benchGroup(fmt.Sprintf("d%dp%d-%s", d, p, role)), "member", benchUser(u))
		}
	}
	for range 20_000 {
		bb.add(bb.resources[r.IntN(len(bb.resources))], "viewer", benchUser(r.IntN(benchUsers)))
	}
	m := NewMemTuples()
	if err := m.Load(bb.ts); err != nil {
		panic(err)
	}
	e, err := New(Config{Schema: DefaultSchema(), Tuples: m})
	if err != nil {
		panic(err)
	}
	bd := &benchData{engine: e, tuples: m.Len(), lookup: ObjectRef{TypeUser, "lookup"}.Subject()}
	perms := []string{"observe", "connect", "manage"}
	for range 2000 {
		q := benchQuery{subject: benchUser(r.IntN(benchUsers)), perm: perms[r.IntN(3)], resource: bb.resources[r.IntN(len(bb.resources))]}
		if r.IntN(4) == 0 {
			q = benchQuery{subject: q.subject, perm: "node-operate", resource: bb.nodes[r.IntN(len(bb.nodes))]}
		}
		bd.queries = append(bd.queries, q)
	}
	return bd
}

func (bb *benchBuilder) domain(d int) {
	dom := ObjectRef{TypeDomain, fmt.Sprintf("d%d", d)}
	bb.add(dom, "platform", Platform.Subject())
	bb.add(dom, "admin", benchGroup(dom.ID+"-admins").Userset("member"))
	bb.add(dom, "auditor", benchUser(1+d))
	if d < 2 {
		bb.add(dom, "admin", benchGroup("lk-outer").Userset("member"))
	}
	for p := range benchProjects {
		proj := ObjectRef{TypeProject, fmt.Sprintf("d%dp%d", d, p)}
		bb.add(proj, "domain", dom.Subject())
		for _, role := range []string{"admin", "operator", "viewer"} {
			bb.add(proj, role, benchGroup(proj.ID+"-"+role).Userset("member"))
		}
		// operator ⊃ oncall, and oncall ⊃ operator in half the projects (a cycle).
		bb.add(benchGroup(proj.ID+"-operator"), "member", benchGroup(proj.ID+"-oncall").Userset("member"))
		if p%2 == 0 {
			bb.add(benchGroup(proj.ID+"-oncall"), "member", benchGroup(proj.ID+"-operator").Userset("member"))
		}
		for i := range benchResources {
			res := ObjectRef{TypeResource, fmt.Sprintf("%sr%d", proj.ID, i)}
			bb.add(res, "project", proj.Subject())
			bb.resources = append(bb.resources, res)
			if i%5 == 0 {
				n := ObjectRef{TypeNode, fmt.Sprintf("%sn%d", proj.ID, i)}
				bb.add(n, "project", proj.Subject())
				bb.add(n, "resource", res.Subject())
				bb.nodes = append(bb.nodes, n)
			}
		}
	}
}

// reportPercentiles records per-op latency percentiles under a prefix.
func reportPercentiles(b *testing.B, prefix string, durs []time.Duration) {
	if len(durs) == 0 {
		return
	}
	slices.Sort(durs)
	at := func(q float64) float64 { return float64(durs[int(q*float64(len(durs)-1))].Nanoseconds()) }
	b.ReportMetric(at(0.50), prefix+"p50-ns")
	b.ReportMetric(at(0.99), prefix+"p99-ns")
	b.ReportMetric(float64(durs[len(durs)-1].Nanoseconds()), prefix+"max-ns")
}

// BenchmarkCheck: independent checks, each with a fresh memo (one API
// request each), mixing grants and denials (denials include their
// explanation). Percentiles are reported twice: wall clock, and the
// thread's CPU time (cpu-…), which a busy machine does not inflate.
func BenchmarkCheck(b *testing.B) {
	f := benchFixture(b)
	ctx := context.Background()
	for _, kind := range []string{"mixed", "allowed", "denied"} {
		b.Run(kind, func(b *testing.B) {
			qs := f.queriesFor(ctx, b, kind)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			wall := make([]time.Duration, 0, 1<<16)
			cpu := make([]time.Duration, 0, 1<<16)
			i := 0
			for b.Loop() {
				q := qs[i%len(qs)]
				i++
				c0, cok := threadCPU()
				start := time.Now()
				if _, err := f.engine.Check(ctx, q.subject, q.perm, q.resource); err != nil {
					b.Fatal(err)
				}
				wall = append(wall, time.Since(start))
				if c1, ok := threadCPU(); ok && cok {
					cpu = append(cpu, c1-c0)
				}
			}
			b.ReportMetric(float64(f.tuples), "tuples")
			reportPercentiles(b, "", wall)
			reportPercentiles(b, "cpu-", cpu)
		})
	}
}

// queriesFor filters the query mix by outcome.
func (f *benchData) queriesFor(ctx context.Context, b *testing.B, kind string) []benchQuery {
	if kind == "mixed" {
		return f.queries
	}
	var out []benchQuery
	for _, q := range f.queries {
		d, err := f.engine.Check(ctx, q.subject, q.perm, q.resource)
		if err != nil {
			b.Fatal(err)
		}
		if d.Allowed == (kind == "allowed") {
			out = append(out, q)
		}
	}
	if len(out) == 0 {
		b.Fatalf("no %s queries", kind)
	}
	return out
}

// BenchmarkCheckListFilter: one request filtering a 50-row page of one
// project's resources, sharing the memo.
func BenchmarkCheckListFilter(b *testing.B) {
	f := benchFixture(b)
	subject := ObjectRef{TypeUser, "u7"}.Subject()
	for b.Loop() {
		ctx := WithRequest(context.Background(), f.engine.NewRequest())
		for i := range 50 {
			res := ObjectRef{TypeResource, fmt.Sprintf("d3p4r%d", i)}
			if _, err := f.engine.Check(ctx, subject, "observe", res); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkLookupResources: a user who administers two domains (through
// nested groups) reaches 10,000 resources.
func BenchmarkLookupResources(b *testing.B) {
	f := benchFixture(b)
	ctx := context.Background()
	got, err := f.engine.LookupResources(ctx, f.lookup, "observe", TypeResource)
	if err != nil || len(got) != 2*benchProjects*benchResources {
		b.Fatalf("lookup reached %d resources (%v), want %d", len(got), err, 2*benchProjects*benchResources)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.engine.LookupResources(ctx, f.lookup, "observe", TypeResource); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(got)), "resources")
}

// TestBenchFixture keeps the benchmark's data honest: its size, and that the
// engine agrees with itself on it (lookup ⇔ check for a sample).
func TestBenchFixture(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 100,000 tuples")
	}
	f := buildBench()
	if f.tuples < 100_000 {
		t.Fatalf("fixture has %d tuples, want at least 100,000", f.tuples)
	}
	ctx := context.Background()
	got, err := f.engine.LookupResources(ctx, f.lookup, "observe", TypeResource)
	if err != nil || len(got) != 10_000 {
		t.Fatalf("lookup user reaches %d resources (%v), want 10000", len(got), err)
	}
	for _, res := range []ObjectRef{got[0], got[len(got)-1], {TypeResource, "d5p0r3"}} {
		d, err := f.engine.Check(ctx, f.lookup, "observe", res)
		if err != nil || d.Allowed != slices.Contains(got, res) {
			t.Errorf("check %s = %+v, %v; lookup says %v", res, d, err, slices.Contains(got, res))
		}
	}
}
