package dashboard_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/authz"
	"github.com/plexsphere/plexsphere/internal/dashboard/browsertest"
	"github.com/plexsphere/plexsphere/internal/demonodes"
	"github.com/plexsphere/plexsphere/internal/store"
)

// adminClient is the platform admin's API client, for test setup only.
func adminClient(t *testing.T, env *browsertest.Env) *apiclient.Client {
	t.Helper()
	c, err := apiclient.New(apiclient.Options{BaseURL: env.URL, Token: env.Token, UserAgent: "dashboard-browser-test"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// domainAndProject creates a Domain (mesh cidr) and a Project in it
// through the API as the platform admin.
func domainAndProject(t *testing.T, env *browsertest.Env, slug, cidr string) (domainID, projectID string) {
	t.Helper()
	ctx := context.Background()
	c := adminClient(t, env)
	d, err := c.CreateDomain(ctx, apiv1.CreateDomain{Name: "Nodes " + slug, Slug: slug, MeshCIDR: cidr})
	if err != nil {
		t.Fatalf("create domain: %v", err)
	}
	p, err := c.CreateProject(ctx, apiv1.CreateProject{DomainID: d.ID, Name: "Edge", Slug: "edge"})
	if err != nil {
		t.Fatalf("create project: %v", err)
	}
	return d.ID, p.ID
}

// TestBrowserNodes is the nodes flow: issue a bootstrap token in the
// dashboard (shown once, with install snippets), enrol two real plexd
// agents (netstack WireGuard) with that very token while the topology
// page is open and see them appear live without a reload, list the nodes
// with their status, define a label, preview selectors, assign the label
// to a node, and revoke a second token.
func TestBrowserNodes(t *testing.T) {
	env := browsertest.Get(t)
	p := env.NewPage(t)
	p.SignIn("alice")
	env.GrantPlatformAdmin(t, "alice@dev.plexsphere.test")
	domainID, projectID := domainAndProject(t, env, "nodes-flow", "100.91.0.0/16")
	if _, err := adminClient(t, env).SetPolicyDefault(context.Background(), domainID, "allow"); err != nil {
		t.Fatal(err)
	}

	// Issue a token good for two machines: the plaintext is shown once,
	// with snippets that carry it.
	p.Go("#/bootstrap-tokens?domain_id=" + domainID + "&project_id=" + projectID)
	p.Wait("tokens-empty")
	p.Click("token-create")
	p.Fill("field-max_uses", "2")
	p.Shot("issue-dialog")
	p.Click("token-form-submit")
	token := p.Text("token-secret-value")
	if !strings.HasPrefix(token, "psb_") {
		t.Fatalf("issued token %q", token)
	}
	server := env.URL
	for _, tab := range []string{"cloud-init", "systemd", "daemonset"} {
		p.Click("token-snippet-tab-" + tab)
		code := p.Text("token-snippet-" + tab)
		if !strings.Contains(code, token) || !strings.Contains(code, server) {
			t.Errorf("%s snippet lacks the token or the server URL:\n%s", tab, code)
		}
	}
	if code := p.Text("token-snippet-daemonset"); !strings.Contains(code, "kind: DaemonSet") || !strings.Contains(code, "PLEXD_BOOTSTRAP_TOKEN") {
		t.Errorf("daemonset snippet:\n%s", code)
	}
	p.Shot("token-issued")
	p.Click("token-secret-done")
	p.Click("token-issued-close")
	p.WaitFor(`!document.body.textContent.includes(` + jsString(token) + `)`)
	p.Wait("tokens-row")

	// The topology page, live and empty; a marker shows the page is never
	// reloaded.
	p.Go("#/topology?domain_id=" + domainID)
	p.Wait("topology-empty")
	p.WaitFor(`document.querySelector('[data-testid="topology-live"]').dataset.live === "yes"`)
	p.Do(evalVoid(`window.__noReload = "still here"`))
	p.Shot("topology-empty")

	// Two real agents enrol with the token from the page.
	ctx := context.Background()
	fleet, err := demonodes.Start(ctx, demonodes.Options{Server: env.URL, N: 2, Dir: t.TempDir(), HeartbeatInterval: time.Second,
		Issue: func(context.Context, int) (string, error) { return token, nil }})
	if err != nil {
		t.Fatalf("enrol demo nodes: %v", err)
	}
	t.Cleanup(fleet.Close)
	p.WaitFor(`document.querySelectorAll('[data-testid="topology-node"]').length === 2 && window.__noReload === "still here"`)
	p.WaitFor(`document.querySelectorAll('[data-testid="topology-edge"]').length === 1`)
	// Heartbeats make them healthy, still without a reload.
	p.WaitFor(`[...document.querySelectorAll('[data-testid="topology-node"]')].every(n => n.dataset.state === "healthy") && window.__noReload === "still here"`)
	ids := browsertest.Eval[[]string](p, `[...document.querySelectorAll('[data-testid="topology-node"]')].map(n => n.dataset.id)`)
	for _, n := range fleet.Nodes {
		if !slices.Contains(ids, n.ID) {
			t.Errorf("topology lacks enrolled node %s (shows %v)", n.ID, ids)
		}
	}
	if kind := browsertest.Eval[string](p, `document.querySelector('[data-testid="topology-edge"]').dataset.kind`); kind != "direct" {
		t.Errorf("the pair's edge is %q, want direct", kind)
	}
	p.Shot("topology-live")
	p.CheckAccessible()

	// The nodes list: both, with status.
	p.Click("topology-nodes")
	p.WaitFor(`document.querySelectorAll('[data-testid="nodes-row"]').length === 2 &&
		document.querySelectorAll('[data-testid="node-state"]').length === 2`)
	p.Shot("nodes")
	p.CheckAccessible()

	// The Project's nodes: their capabilities (none reported by the demo
	// agents yet), linked from the node page.
	p.Go("#/projects/" + projectID + "/nodes")
	p.WaitFor(`!!document.querySelector('[data-testid="capabilities-empty"], [data-testid="capabilities-row"]')`)
	p.Shot("project-nodes")

	// A label, defined in the Domain.
	p.Go("#/labels?scope=domain:" + domainID)
	p.Wait("labels-empty")
	p.Click("label-create")
	p.Fill("field-local_key", "tier")
	p.Click("label-form-submit")
	p.Wait("labels-row")
	if key := p.Text("label-key"); !strings.HasSuffix(key, "tier") {
		t.Errorf("label key %q", key)
	}
	// Selector preview: a valid expression parses; a broken one explains.
	p.Fill("selector-input", "tier in (web, db)")
	p.Click("selector-preview-run")
	p.Wait("selector-ok")
	if ast := p.Text("selector-ast"); !strings.Contains(ast, `"in"`) {
		t.Errorf("selector AST: %s", ast)
	}
	p.Shot("labels")
	p.CheckAccessible()
	p.Do(clear("selector-input"))
	p.Fill("selector-input", "tier in (")
	p.Click("selector-preview-run")
	p.Wait("selector-errors")
	p.Shot("selector-error")

	// Assign it on the first node's page; then remove and re-assign.
	p.Go("#/nodes/" + fleet.Nodes[0].ID)
	p.Wait("node-detail")
	p.Wait("node-labels-none")
	p.Fill("field-value", "web")
	p.Click("assign-form-submit")
	p.Wait("node-label")
	if got := browsertest.Eval[string](p, `document.querySelector('[data-testid="node-label"]').textContent`); !strings.Contains(got, "tier=web") {
		t.Errorf("node label %q", got)
	}
	p.Shot("node-labelled")
	p.CheckAccessible()
	var stored string
	if err := env.Server.DB.QueryRowContext(ctx, `SELECT value FROM label_assignments WHERE object_kind = 'node' AND object_id = $1`,
		fleet.Nodes[0].ID).Scan(&stored); err != nil || stored != "web" {
		t.Errorf("the node's stored label: %q %v", stored, err)
	}

	// A second token, revoked.
	p.Go("#/bootstrap-tokens?domain_id=" + domainID + "&project_id=" + projectID)
	p.Wait("tokens-row")
	p.Click("token-create")
	p.Click("token-form-submit")
	p.Wait("token-secret-value")
	p.Click("token-issued-close")
	p.WaitFor(`document.querySelectorAll('[data-testid="token-revoke"]').length === 1`)
	p.Do(evalVoid(`window.confirm = () => true`))
	p.Click("token-revoke")
	p.WaitFor(`document.querySelectorAll('[data-testid="token-revoke"]').length === 0 &&
		[...document.querySelectorAll('[data-testid="token-state"]')].map(b => b.dataset.status).sort().join() === "consumed,revoked"`)
	p.Shot("tokens")
	p.CheckAccessible()

	ops := p.CheckParity()
	for _, want := range []string{
		"POST /v1/projects/{project_id}/bootstrap-tokens", "GET /v1/projects/{project_id}/bootstrap-tokens",
		"DELETE /v1/projects/{project_id}/bootstrap-tokens/{id}", "GET /v1/domains/{domainId}/mesh/topology",
		"GET /v1/domains/{domainId}/events", "GET /v1/nodes", "GET /v1/nodes/{id}", "GET /v1/label-definitions",
		"POST /v1/label-definitions", "POST /v1/labels/selectors/preview", "GET /v1/objects/{kind}/{id}/labels",
		"PUT /v1/objects/{kind}/{id}/labels", "GET /v1/projects/{project_id}/capabilities",
	} {
		if !slices.Contains(ops, want) {
			t.Errorf("the flow made no %s request", want)
		}
	}
}

// seedNodes inserts n nodes into a Project straight into the database,
// with the structural tuples registration writes: a measurement fixture
// only (registration is Argon2-bound, ~0.3 s a node), never a substitute
// for enrolment in a behaviour test.
func seedNodes(t *testing.T, env *browsertest.Env, domainID, projectID string, n int) []string {
	t.Helper()
	return seedNodesAt(t, env, domainID, projectID, n, "100.92")
}

// seedNodesAt is seedNodes with mesh addresses in prefix (a /16's first
// two octets).
func seedNodesAt(t *testing.T, env *browsertest.Env, domainID, projectID string, n int, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	now := store.Micros(time.Now())
	ids := make([]string, n)
	var add []authz.Tuple
	err := env.Server.DB.Tx(ctx, func(tx *sql.Tx) error {
		for i := range n {
			id := uuid.Must(uuid.NewV7()).String()
			ids[i] = id
			key := make([]byte, 32)
			copy(key, id)
			if _, err := tx.ExecContext(ctx, `INSERT INTO nodes (id, domain_id, project_id, resource_id, token_id, kind, name,
				public_key, mesh_ip, nsk_digest, nsk_sealed, labels, created_at, updated_at, last_heartbeat_at)
				VALUES ($1,$2,$3,$4,$5,'node',$6,$7,$8,$9,'x','{}',$10,$10,$10)`,
				id, domainID, projectID, uuid.NewString(), uuid.NewString(), fmt.Sprintf("seed-%04d", i),
				base64.StdEncoding.EncodeToString(key), fmt.Sprintf("%s.%d.%d", prefix, 1+i/250, 1+i%250), "seed-"+id, now); err != nil {
				return err
			}
			node := authz.ObjectRef{Type: authz.TypeNode, ID: id}
			add = append(add, authz.Tuple{Resource: node, Relation: "project",
				Subject: authz.ObjectRef{Type: authz.TypeProject, ID: projectID}.Subject()})
		}
		return env.Server.Tuples.Write(ctx, tx, add, nil)
	})
	if err == nil {
		err = env.Server.Tuples.Sync(ctx)
	}
	if err != nil {
		t.Fatalf("seed %d nodes: %v", n, err)
	}
	return ids
}

// TestBrowserNodesPageLoad measures the nodes page with 1,000 nodes in a
// Domain (server-side paged, 50 rows a page): a fresh load of the
// dashboard until the first page's rows enter the DOM, as the browser
// measures it (performance.now() from the navigation's start; the status
// column, one node read per row after that, is logged). Goal: < 300 ms
// (see checkLoad). The topology of that Domain (999,000 directed edges)
// is read in bounded pages: its operation's default answer is measured
// (size and time), and its page shows the mesh's counts and one node's
// pairs; the page is measured drawing a whole 50-node mesh too.
func TestBrowserNodesPageLoad(t *testing.T) {
	env := browsertest.Get(t)
	p := env.NewPage(t)
	p.SignIn("alice")
	env.GrantPlatformAdmin(t, "alice@dev.plexsphere.test")
	domainID, projectID := domainAndProject(t, env, "nodes-perf", "100.92.0.0/16")
	start := time.Now()
	seedNodes(t, env, domainID, projectID, 1000)
	t.Logf("seeded 1000 nodes in %v", time.Since(start))

	// Baseline: the dashboard's own start (modules, session probe) on a
	// page without API calls: what the machine gives any page.
	watchRender(p)
	var base []time.Duration
	for range 5 {
		base = append(base, renderTime(p, "#/design", "design"))
	}
	slices.Sort(base)
	baseline := base[len(base)/2]
	t.Logf("baseline (design page, no API) median %v", baseline)

	route := "#/nodes?domain_id=" + domainID
	p.Open(route) // warm: module cache, session
	p.Wait("nodes-row")
	var times []time.Duration
	for range 7 {
		d := renderTime(p, route, "nodes-row")
		statusFilled(t, p)
		full := time.Duration(browsertest.Eval[float64](p, `performance.now()`) * float64(time.Millisecond))
		times = append(times, d)
		t.Logf("nodes page (1000 nodes): rows rendered %v, status column filled %v", d, full)
		if testing.Verbose() {
			t.Log(browsertest.Eval[string](p, `performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
				.filter(e => e.entryType === 'navigation' || (e.name.includes('/v1/') && !e.name.includes('/v1/nodes/'))).map(e => e.name.replace(location.origin, '') + ' ' + Math.round(e.startTime) + '+' + Math.round(e.duration)).join('\n')`))
		}
	}
	if n := browsertest.Eval[int](p, `document.querySelectorAll('[data-testid="nodes-row"]').length`); n != 50 {
		t.Errorf("first page shows %d rows, want 50 (server-side paging)", n)
	}
	p.Click("nodes-more")
	p.WaitFor(`document.querySelectorAll('[data-testid="nodes-row"]').length === 100`)
	slices.Sort(times)
	median := times[len(times)/2]
	t.Logf("nodes page median %v", median)
	checkLoad(t, "nodes page (1,000 nodes)", median, baseline)
	p.Shot("nodes-1000")

	// The topology operation of the 1,000-node Domain (999,000 directed
	// edges) answers every node, the counts of every edge and one bounded
	// page of them: under 512 KB, and within 100 ms (the median of 5) on a
	// quiet machine (1 s on a loaded one).
	var apiTimes []time.Duration
	for range 5 {
		req, _ := http.NewRequest(http.MethodGet, env.URL+"/v1/domains/"+domainID+"/mesh/topology", nil)
		req.Header.Set("Authorization", "Bearer "+env.Token)
		began := time.Now()
		resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("topology API, 1000 nodes: %v after %v", err, time.Since(began))
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(began)
		apiTimes = append(apiTimes, took)
		var topo apiv1.MeshTopology
		if err := json.Unmarshal(raw, &topo); err != nil || resp.StatusCode != 200 {
			t.Fatalf("topology API, 1000 nodes: %d %v", resp.StatusCode, err)
		}
		if len(raw) > 512<<10 || len(topo.Nodes) != 1000 || len(topo.Edges) != 1000 || topo.NextCursor == "" ||
			topo.Summary.Edges != 1000*999 || topo.Summary.NeverReported != 1000*999 {
			t.Fatalf("topology API, 1000 nodes: %d bytes, %d nodes, %d edges, summary %+v", len(raw), len(topo.Nodes), len(topo.Edges), topo.Summary)
		}
		t.Logf("topology API, 1000 nodes: %d bytes (%d edges of %d) in %v", len(raw), len(topo.Edges), topo.Summary.Edges, took)
	}
	slices.Sort(apiTimes)
	apiBound := 100 * time.Millisecond
	if baseline > LoadGoal/2 {
		apiBound = time.Second
	}
	if apiTimes[2] > apiBound {
		t.Errorf("topology API, 1000 nodes: median %v, want < %v", apiTimes[2], apiBound)
	}

	// The topology page of the 1,000-node Domain shows the counts of the
	// whole mesh and draws one node's pairs (999); picking another node
	// draws that one's.
	var large []time.Duration
	for range 5 {
		large = append(large, renderTime(p, "#/topology?domain_id="+domainID, "topology-summary"))
	}
	slices.Sort(large)
	t.Logf("topology page (1000 nodes, summary shown) loads: %v, median %v", large, large[len(large)/2])
	checkLoad(t, "topology page (1,000 nodes)", large[len(large)/2], baseline)
	if got := browsertest.Eval[string](p, `document.querySelector('[data-testid="topology-summary-edges"]').dataset.count`); got != "999000" {
		t.Errorf("summary edges %q, want 999000", got)
	}
	p.WaitFor(`document.querySelector('[data-testid="topology"]')?.dataset.pairs === "999"`)
	graphAt := browsertest.Eval[float64](p, `window.__seen["topology-svg"] || -1`)
	t.Logf("topology page (1000 nodes): one node's 999 pairs drawn at %.0f ms", graphAt)
	first := browsertest.Eval[string](p, `document.querySelector('[data-testid="topology"]').dataset.focus`)
	other := browsertest.Eval[string](p, `[...document.querySelectorAll('[data-testid="topology-focus"] option')].map(o => o.value).find(v => v !== `+jsString(first)+`)`)
	browsertest.Eval[bool](p, `(s => (s.value = `+jsString(other)+`, s.dispatchEvent(new Event('change', {bubbles: true})), true))(document.querySelector('[data-testid="topology-focus"]'))`)
	p.WaitFor(`document.querySelector('[data-testid="topology"]')?.dataset.focus === ` + jsString(other) +
		` && document.querySelector('[data-testid="topology"]').dataset.pairs === "999"`)
	p.CheckAccessible()
	p.Shot("topology-1000")

	// The topology page, measured on a 50-node Domain (1,225 pairs drawn).
	small, smallProject := domainAndProject(t, env, "nodes-perf-small", "100.93.0.0/16")
	seedNodesAt(t, env, small, smallProject, 50, "100.93")
	troute := "#/topology?domain_id=" + small
	p.Open(troute)
	p.Wait("topology-svg")
	var topo []time.Duration
	for range 5 {
		topo = append(topo, renderTime(p, troute, "topology-svg"))
	}
	if n := browsertest.Eval[int](p, `document.querySelectorAll('[data-testid="topology-node"]').length`); n != 50 {
		t.Errorf("topology shows %d nodes, want 50", n)
	}
	slices.Sort(topo)
	t.Logf("topology page (50 nodes) loads: %v, median %v", topo, topo[len(topo)/2])
	checkLoad(t, "topology page (50 nodes)", topo[len(topo)/2], baseline)
	p.Shot("topology-50")
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// evalVoid evaluates a JavaScript statement in the page.
func evalVoid(js string) chromedp.Action[chromedp.Void] { return chromedp.Evaluate[chromedp.Void](js) }

// statusFilled waits until every row of the nodes table shows its status.
func statusFilled(t *testing.T, p *browsertest.Page) {
	t.Helper()
	const expr = `[document.querySelectorAll('[data-testid="nodes-row"]').length, document.querySelectorAll('[data-testid="node-state"]').length, document.querySelectorAll('[data-testid="node-state-error"]').length]`
	var got []int
	for deadline := time.Now().Add(browsertest.Timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		got = browsertest.Eval[[]int](p, expr)
		if got[0] > 0 && got[1] == got[0] {
			return
		}
	}
	var reqs []string
	for _, r := range p.Requests() {
		if strings.Contains(r.Path, "/v1/") {
			reqs = append(reqs, fmt.Sprintf("%s %s %d", r.Method, r.Path, r.Status))
		}
	}
	t.Fatalf("status column not filled: rows, badges, errors = %v; requests:\n%s", got, strings.Join(reqs[max(0, len(reqs)-30):], "\n"))
}

// LoadGoal is the issue's page-load goal on localhost.
const LoadGoal = 300 * time.Millisecond

// checkLoad asserts a page's median load time against the goal, and that
// the page adds less than half the goal to the dashboard's own start
// (baseline: a page without API calls, measured in the same run) — when
// the machine is quiet enough for the numbers to be the page's. On a
// machine so loaded that an empty page takes more than half the goal,
// the numbers measure the load: they are logged, not asserted.
func checkLoad(t *testing.T, what string, median, baseline time.Duration) {
	t.Helper()
	if baseline > LoadGoal/2 {
		t.Logf("%s: machine loaded (baseline %v): not asserted; median %v (%v over the baseline)", what, baseline, median, median-baseline)
		return
	}
	if median > LoadGoal {
		t.Errorf("%s loads in %v (median), want < %v", what, median, LoadGoal)
	}
	if extra := median - baseline; extra > LoadGoal/2 {
		t.Errorf("%s: %v over the baseline %v (median %v), want < %v", what, extra, baseline, median, LoadGoal/2)
	}
}

// watchedIDs are the elements whose first appearance renderTime reports.
var watchedIDs = []string{"nodes-row", "topology-svg", "topology-summary", "design"}

// watchRender makes every document of the page note, in window.__seen,
// when each watched element first enters the DOM (performance.now(), from
// the navigation's start): a MutationObserver installed before any script
// of the page runs, so the time is the page's, not the test's polling.
func watchRender(p *browsertest.Page) {
	p.T.Helper()
	script := fmt.Sprintf(`(() => { const ids = %s; window.__seen = {};
	  new MutationObserver(() => { for (const id of ids) if (!(id in window.__seen) && document.querySelector('[data-testid="' + id + '"]')) window.__seen[id] = performance.now(); })
	    .observe(document, { subtree: true, childList: true }); })()`, jsArray(watchedIDs))
	p.Do(func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: script})
		return chromedp.Void{}, err
	})
}

// renderTime loads the dashboard afresh at route and returns when the
// element testid (one of watchedIDs) first entered the DOM.
func renderTime(p *browsertest.Page, route, testid string) time.Duration {
	p.T.Helper()
	p.Open(route)
	p.Wait(testid)
	ms := browsertest.Eval[float64](p, fmt.Sprintf(`window.__seen[%q] || -1`, testid))
	if ms < 0 {
		p.T.Fatalf("the render watch missed %s", testid)
	}
	return time.Duration(ms * float64(time.Millisecond))
}

func jsArray(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = jsString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
