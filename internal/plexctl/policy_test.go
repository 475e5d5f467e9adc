package plexctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
)

const policyYAML = `slug: web-to-db
display_name: Web to DB
selector: {source: role=web, destination: role=db}
rules:
  - {action: allow, protocol: tcp, source_cidr: 0.0.0.0/0, destination_cidr: 0.0.0.0/0, ports: {from: 5432, to: 5432}}
`

// Issue 10: plexctl policy apply creates, shows the diff, updates with
// the head it evaluated, is idempotent, and the read commands follow.
func TestPolicyCommandsLive(t *testing.T) {
	l := newLive(t, apptest.SQLite)
	enr := l.e.NewEnrolment(t, "pctl", "100.81.0.0/16", 1)
	pid := enr.Project.ID
	dir := t.TempDir()
	file := filepath.Join(dir, "p.yaml")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(policyYAML)

	r := l.ok(nil, "policy", "apply", "-f", file, "--project", pid, "--dry-run")
	if !strings.Contains(r.stdout, "create (1 rules") || !strings.Contains(r.stdout, "+ allow tcp 0.0.0.0/0 -> 0.0.0.0/0 port 5432") {
		t.Fatalf("dry run of a new policy:\n%s", r.stdout)
	}
	var none apiv1.List[apiv1.NetworkPolicy]
	l.ok(&none, "policy", "list", "--project", pid, "-o", "json")
	if len(none.Items) != 0 {
		t.Fatalf("--dry-run created a policy: %+v", none.Items)
	}

	var res []applyResult
	l.ok(&res, "policy", "apply", "-f", file, "--project", pid, "-o", "json")
	if len(res) != 1 || res[0].Action != "created" || res[0].Policy == nil {
		t.Fatalf("apply: %+v", res)
	}
	first := res[0].Policy.HeadRevisionID

	l.ok(&res, "policy", "apply", "-f", file, "--project", pid, "-o", "json")
	if res[0].Action != "unchanged" {
		t.Fatalf("re-apply: %+v", res[0])
	}

	write(strings.Replace(policyYAML, "rules:\n", "rules:\n  - {action: deny, protocol: tcp, source_cidr: 0.0.0.0/0, destination_cidr: 0.0.0.0/0, ports: {from: 22, to: 22}}\n", 1))
	r = l.ok(nil, "policy", "apply", "-f", file, "--project", pid)
	if !strings.Contains(r.stdout, "+ deny tcp 0.0.0.0/0 -> 0.0.0.0/0 port 22") || !strings.Contains(r.stdout, "updated (revision") {
		t.Fatalf("apply update:\n%s", r.stdout)
	}

	r = l.ok(nil, "policy", "diff", "web-to-db", "--project", pid)
	if strings.TrimSpace(r.stdout) != "+ deny tcp 0.0.0.0/0 -> 0.0.0.0/0 port 22" {
		t.Fatalf("diff:\n%s", r.stdout)
	}
	var revs apiv1.List[apiv1.PolicyRevision]
	l.ok(&revs, "policy", "revisions", "web-to-db", "--project", pid, "-o", "json")
	if len(revs.Items) != 2 || revs.Items[1].ID != first {
		t.Fatalf("revisions: %+v", revs.Items)
	}
	var old apiv1.PolicyRevision
	l.ok(&old, "policy", "get", "web-to-db", "--project", pid, "--revision", first, "-o", "json")
	if old.ID != first || len(old.Rules) != 1 {
		t.Fatalf("get --revision: %+v", old)
	}
	r = l.ok(nil, "policy", "get", "web-to-db", "--project", pid)
	if !strings.Contains(r.stdout, "role=web") || !strings.Contains(r.stdout, "5432") || !strings.Contains(r.stdout, "Web to DB") {
		t.Fatalf("get:\n%s", r.stdout)
	}

	// A test naming no node fails the dry run (exit 1) and is shown.
	write(policyYAML + "tests:\n  - {from: role=web, to: role=db, protocol: tcp, port: 5432, expect: allow}\n")
	r = l.run("policy", "test", "-f", file, "--project", pid)
	if r.code != ExitError || !strings.Contains(r.stdout, "FAIL tests[0]") || !strings.Contains(r.stdout, "matches no node") {
		t.Fatalf("policy test: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = l.run("policy", "apply", "-f", file, "--project", pid)
	if r.code != ExitError || !strings.Contains(r.stderr, "policy_test_failed") {
		t.Fatalf("apply with a failing test: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// A typo in the file is an error, not a silently dropped field.
	write(strings.Replace(policyYAML, "source_cidr", "src_cidr", 1))
	r = l.run("policy", "apply", "-f", file, "--project", pid)
	if r.code == ExitOK || !strings.Contains(r.stderr, "src_cidr") {
		t.Fatalf("unknown key: exit %d\n%s", r.code, r.stderr)
	}
	r = l.run("policy", "apply", "--project", pid)
	if r.code != ExitUsage {
		t.Fatalf("apply without -f: exit %d\n%s", r.code, r.stderr)
	}

	var d struct {
		PolicyDefault string `json:"policy_default"`
	}
	l.ok(&d, "policy", "default", "allow", "--domain", enr.Domain.ID, "-o", "json")
	if d.PolicyDefault != "allow" {
		t.Fatalf("policy default allow: %+v", d)
	}
	d.PolicyDefault = ""
	l.ok(&d, "policy", "default", "--domain", enr.Domain.ID, "-o", "json")
	if d.PolicyDefault != "allow" {
		t.Fatalf("policy default: %+v", d)
	}
	if r = l.run("policy", "default", "maybe", "--domain", enr.Domain.ID); r.code != ExitUsage {
		t.Fatalf("policy default maybe: exit %d", r.code)
	}

	r = l.ok(nil, "policy", "delete", "web-to-db", "--project", pid)
	if !strings.Contains(r.stdout, "deleted") {
		t.Fatalf("delete: %s", r.stdout)
	}
	r = l.run("policy", "get", "web-to-db", "--project", pid)
	if r.code != ExitError || !strings.Contains(r.stderr, "no policy with slug") {
		t.Fatalf("get after delete: exit %d %s", r.code, r.stderr)
	}
}

// The file decoder refuses what it cannot apply faithfully.
func TestDecodePolicyDocs(t *testing.T) {
	docs, err := decodePolicyDocs("f", []byte(policyYAML+"---\n"+strings.Replace(policyYAML, "web-to-db", "second", 1)))
	if err != nil || len(docs) != 2 || docs[1].Slug != "second" || docs[0].rules()[0].Ports.To != 5432 {
		t.Fatalf("two documents: %+v %v", docs, err)
	}
	for name, in := range map[string]string{
		"empty":      "",
		"no slug":    "selector: {source: a=b, destination: c=d}\n",
		"unknown":    policyYAML + "bogus: 1\n",
		"bad yaml":   "slug: [",
		"wrong type": "slug: a\nrules: 3\n",
	} {
		if _, err := decodePolicyDocs("f", []byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzPolicyFile feeds arbitrary bytes to the policy file decoder: it
// never panics, and every document it accepts has a slug and at most
// maxPolicyDocs siblings.
func FuzzPolicyFile(f *testing.F) {
	f.Add([]byte(policyYAML))
	f.Add([]byte(policyYAML + "---\n" + policyYAML))
	f.Add([]byte("slug: a\nrules: [{ports: {from: 1}}]\ntests: [{port: 70000}]\n"))
	f.Add([]byte("{\"slug\": \"a\", \"selector\": {\"source\": \"x\"}}"))
	f.Add([]byte("&a [*a, *a]"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		docs, err := decodePolicyDocs("f", raw)
		if err != nil {
			return
		}
		if len(docs) == 0 || len(docs) > maxPolicyDocs {
			t.Fatalf("%d documents accepted", len(docs))
		}
		for _, d := range docs {
			if strings.TrimSpace(d.Slug) == "" {
				t.Fatal("a document without slug accepted")
			}
			if rules := d.rules(); len(rules) != len(d.Rules) {
				t.Fatalf("%d rules became %d", len(d.Rules), len(rules))
			}
		}
	})
}
