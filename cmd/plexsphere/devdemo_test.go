package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDevDemoNodes runs `plexsphere dev --demo-nodes 3`: the admin token is
// written to <data-dir>/admin-token, three in-process plexd nodes enrol in
// the dev Domain, heartbeat, carry role labels, and the Domain's topology
// shows a direct, healthy path between every pair (all over loopback).
func TestDevDemoNodes(t *testing.T) {
	dataDir := t.TempDir()
	listen, idpListen := freeAddr(t), freeAddr(t)
	base := "http://" + listen
	domainID, stop := runDemoDev(t, dataDir, listen, idpListen)
	first := liveDemoMesh(t, base, dataDir, domainID)
	stop()
	// A restart on the same data directory brings the same nodes back.
	again, stop := runDemoDev(t, dataDir, listen, idpListen)
	defer stop()
	if again != domainID {
		t.Fatalf("restart seeded another Domain")
	}
	if second := liveDemoMesh(t, base, dataDir, domainID); !slices.Equal(first, second) {
		t.Fatalf("restart changed the demo nodes: %v then %v", first, second)
	}
}

// runDemoDev starts `plexsphere dev --demo-nodes 3` in process and returns
// the dev Domain's id once the nodes are up.
func runDemoDev(t *testing.T, dataDir, listen, idpListen string) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out lockedBuffer
	root := rootCommand(io.Discard, &out)
	root.SetArgs([]string{"dev", "--data-dir", dataDir, "--listen", listen, "--idp-listen", idpListen,
		"--log-level", "warn", "--demo-nodes", "3"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	stop := func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("dev exited with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("dev did not shut down within 30 s")
		}
	}
	var domainID string
	deadline := time.Now().Add(60 * time.Second)
	for domainID == "" || !strings.Contains(out.String(), "3 demo nodes up") {
		if m := domainLine.FindStringSubmatch(out.String()); m != nil {
			domainID = m[1]
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("the demo nodes did not come up:\n%s", out.String())
		}
		select {
		case err := <-done:
			t.Fatalf("dev exited early: %v\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return domainID, stop
}

// liveDemoMesh waits for the dev Domain's topology to show three healthy
// nodes with a direct, healthy path between every pair, checks their role
// labels, and returns their ids.
func liveDemoMesh(t *testing.T, base, dataDir, domainID string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
	if err != nil || !strings.HasPrefix(strings.TrimSpace(string(raw)), "psk_") {
		t.Fatalf("admin token file: %q %v", raw, err)
	}
	token := strings.TrimSpace(string(raw))
	get := func(path string, v any) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	type topology struct {
		Nodes []struct {
			NodeID       string `json:"node_id"`
			Reachability string `json:"reachability"`
		} `json:"nodes"`
		Edges []struct {
			Mode   string `json:"mode"`
			Status string `json:"status"`
		} `json:"edges"`
	}
	var topo topology
	for deadline := time.Now().Add(60 * time.Second); ; {
		topo = topology{}
		get("/v1/domains/"+domainID+"/mesh/topology", &topo)
		healthy := len(topo.Nodes) == 3 && len(topo.Edges) == 6
		for _, n := range topo.Nodes {
			healthy = healthy && n.Reachability == "healthy"
		}
		for _, e := range topo.Edges {
			healthy = healthy && e.Mode == "direct" && e.Status == "healthy"
		}
		if healthy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no live direct mesh of 3 nodes within 60 s: %+v", topo)
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, n := range topo.Nodes {
		var labels struct {
			Items []struct {
				QualifiedKey string `json:"qualified_key"`
				Value        string `json:"value"`
			} `json:"items"`
		}
		get("/v1/objects/node/"+n.NodeID+"/labels", &labels)
		ok := false
		for _, l := range labels.Items {
			ok = ok || (strings.HasSuffix(l.QualifiedKey, "role") && (l.Value == "web" || l.Value == "db"))
		}
		if !ok {
			t.Errorf("node %s has no role label: %+v", n.NodeID, labels)
		}
	}
	ids := make([]string, 0, len(topo.Nodes))
	for _, n := range topo.Nodes {
		ids = append(ids, n.NodeID)
	}
	slices.Sort(ids)
	return ids
}

func TestDevDemoNodesBounds(t *testing.T) {
	for _, n := range []string{"-1", "201"} {
		root := rootCommand(io.Discard, io.Discard)
		root.SetArgs([]string{"dev", "--data-dir", t.TempDir(), "--listen", freeAddr(t), "--idp-listen", freeAddr(t), "--demo-nodes", n})
		if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "--demo-nodes") {
			t.Fatalf("--demo-nodes %s: %v", n, err)
		}
	}
}
