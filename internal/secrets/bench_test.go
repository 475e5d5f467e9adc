package secrets_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
	"github.com/plexsphere/plexsphere/internal/config"
	"github.com/plexsphere/plexsphere/internal/secrets/openbao/baotest"
)

// benchBackends are the two backends the benchmarks compare: the embedded
// store, and the OpenBao client against the wire-level stand-in (TLS on
// loopback).
func benchBackends(b *testing.B) map[string]func(*config.Config) {
	return map[string]func(*config.Config){
		"embedded": func(c *config.Config) { c.SecretFetchRate, c.SecretFetchDomainRate = 1e6, 1e6 },
		"openbao": func(c *config.Config) {
			bao := baotest.New(b)
			c.SecretsBackend, c.OpenBaoAddr, c.OpenBaoCACert = "openbao", bao.URL(), bao.CACertFile()
			c.OpenBaoToken = config.Secret(bao.RootToken())
			c.SecretFetchRate, c.SecretFetchDomainRate = 1e6, 1e6
		},
	}
}

// BenchmarkNodeFetch measures one node's secret fetch through the real
// HTTP handler: NSK authentication, binding check, backend read, re-wrap
// under the NSK (level 1) and the audit entry. Reported: p50 and p99 per
// request with one client, and fetches per second with 8 concurrent nodes.
func BenchmarkNodeFetch(b *testing.B) {
	for _, name := range []string{"embedded", "openbao"} {
		b.Run(name, func(b *testing.B) {
			e := apptest.StartConfig(b, apptest.SQLite, benchBackends(b)[name])
			enr := e.NewEnrolment(b, "bench", "100.73.0.0/16", 8)
			path := "/v1/projects/" + enr.Project.ID + "/secrets/db-password"
			if st, raw := e.Do(b, "PUT", path, apiv1.SecretPutRequest{Value: base64.StdEncoding.EncodeToString(make([]byte, 64))}, nil); st != 200 {
				b.Fatalf("put: %d %s", st, raw)
			}
			var nodes []apptest.Node
			for i := range 8 {
				n := e.RegisterNode(b, enr.Token.Token, fmt.Sprintf("n%d", i), 1)
				nodes = append(nodes, n)
				if st, raw := e.Do(b, "POST", path+"/bindings", apiv1.SecretBindingRequest{NodeID: n.ID}, nil); st != 201 {
					b.Fatalf("bind: %d %s", st, raw)
				}
			}
			fetch := func(n apptest.Node) {
				resp, raw := e.NodeSend(b, n, "GET", "/v1/nodes/"+n.ID+"/secrets/db-password", nil, http.Header{"Accept": {"application/json"}})
				if resp.StatusCode != 200 {
					b.Fatalf("fetch: %d %s", resp.StatusCode, raw)
				}
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				fetch(nodes[0])
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			const total = 2000
			var wg sync.WaitGroup
			t0 := time.Now()
			for _, n := range nodes {
				wg.Go(func() {
					for range total / len(nodes) {
						fetch(n)
					}
				})
			}
			wg.Wait()
			b.ReportMetric(total/time.Since(t0).Seconds(), "fetches/s")
		})
	}
}

// BenchmarkRotationFanOut measures one rotation reaching 1,000 bound nodes
// (SECRETS_FANOUT_NODES): a write through the API (the new version in the
// backend, then node_secrets_updated with each node's index appended to
// 1,000 event logs in the write's transaction), and the same through the
// watcher for a version written in OpenBao behind plexsphere's back.
func BenchmarkRotationFanOut(b *testing.B) {
	n := envNodes(1000)
	bao := baotest.New(b)
	e := apptest.StartConfig(b, apptest.SQLite, func(c *config.Config) {
		c.SecretsBackend, c.OpenBaoAddr, c.OpenBaoCACert = "openbao", bao.URL(), bao.CACertFile()
		tok := filepath.Join(b.TempDir(), "tok")
		os.WriteFile(tok, []byte(bao.RootToken()), 0o600)
		c.OpenBaoTokenFile = tok
		c.PublicRateLimit = 0 // 1,000 registrations from one address
	})
	// A Domain on the default deny (no policy): joins announce no peers,
	// so setting up 1,000 nodes costs O(N), not a full mesh's O(N²).
	var enr apptest.Enrolment
	if st, raw := e.Do(b, "POST", "/v1/domains", apiv1.CreateDomain{Name: "fan", Slug: "fan", MeshCIDR: "100.74.0.0/16"}, &enr.Domain); st != 201 {
		b.Fatalf("domain: %d %s", st, raw)
	}
	if st, raw := e.Do(b, "POST", "/v1/projects", apiv1.CreateProject{DomainID: enr.Domain.ID, Name: "p", Slug: "p"}, &enr.Project); st != 201 {
		b.Fatalf("project: %d %s", st, raw)
	}
	if st, raw := e.Do(b, "POST", "/v1/projects/"+enr.Project.ID+"/bootstrap-tokens",
		apiv1.IssueBootstrapToken{Kind: "node", EnvPrefix: "fan", MaxUses: n}, &enr.Token); st != 201 {
		b.Fatalf("token: %d %s", st, raw)
	}
	roleID, role := e.DefineNodeLabel(b, enr.Domain.ID, "role")
	for i := range n {
		node := e.RegisterNode(b, enr.Token.Token, fmt.Sprintf("n%d", i), 1)
		e.LabelNode(b, roleID, node.ID, "db")
	}
	path := "/v1/projects/" + enr.Project.ID + "/secrets/db-password"
	put := func() {
		if st, raw := e.Do(b, "PUT", path, apiv1.SecretPutRequest{Value: base64.StdEncoding.EncodeToString([]byte("v"))}, nil); st != 200 {
			b.Fatalf("put: %d %s", st, raw)
		}
	}
	put()
	var bnd apiv1.SecretBinding
	if st, raw := e.Do(b, "POST", path+"/bindings", apiv1.SecretBindingRequest{Selector: role + "=db"}, &bnd); st != 201 || bnd.MatchedNodes != n {
		b.Fatalf("bind: %d %s", st, raw)
	}
	var api, watch time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		put()
		api += time.Since(t0)
		bao.WriteOutOfBand(fmt.Sprintf("secret/plexsphere/%s/%s/db-password", enr.Domain.ID, enr.Project.ID), []byte("oob"))
		t0 = time.Now()
		if changed, err := e.Server.Secrets.WatchOnce(b.Context()); err != nil || changed != 1 {
			b.Fatalf("watch: %d %v", changed, err)
		}
		watch += time.Since(t0)
	}
	b.ReportMetric(float64(api.Microseconds())/1000/float64(b.N), "api-write-ms")
	b.ReportMetric(float64(watch.Microseconds())/1000/float64(b.N), "watch-pass-ms")
	var events int
	e.Server.DB.QueryRow(`SELECT COUNT(*) FROM event_log WHERE event_type = 'node_secrets_updated'`).Scan(&events)
	if want := n * (1 + 2*b.N); events != want {
		b.Fatalf("%d node_secrets_updated events, want %d", events, want)
	}
}

func envNodes(def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("SECRETS_FANOUT_NODES"), &n); err == nil && n > 0 {
		return n
	}
	return def
}
