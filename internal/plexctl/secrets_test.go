package plexctl

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/apptest"
)

// runWith runs args with stdin as standard input.
func (l *live) runWith(stdin io.Reader, args ...string) result {
	l.t.Helper()
	var out, errb bytes.Buffer
	a := newApp(stdin, &out, &errb, func(k string) string { return l.env[k] })
	ctx, cancel := context.WithTimeout(l.t.Context(), 30*time.Second)
	defer cancel()
	code := a.run(ctx, args)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// fails runs args and fails the test unless the exit code is code and
// stderr contains want.
func (l *live) fails(code int, want string, args ...string) result {
	l.t.Helper()
	return l.failsWith(strings.NewReader(""), code, want, args...)
}

func (l *live) failsWith(stdin io.Reader, code int, want string, args ...string) result {
	l.t.Helper()
	r := l.runWith(stdin, args...)
	if r.code != code || !strings.Contains(r.stderr, want) {
		l.t.Fatalf("plexctl %s: exit %d, stderr %q; want exit %d and %q", strings.Join(args, " "), r.code, r.stderr, code, want)
	}
	return r
}

// pretendTerminal makes isTerminal answer term for the test's duration.
func pretendTerminal(t *testing.T, term func(any) bool) {
	t.Helper()
	old := isTerminal
	isTerminal = term
	t.Cleanup(func() { isTerminal = old })
}

// writeFile writes data to name in dir and returns its path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// secretNames lists the Project's secrets by name, through plexctl.
func (l *live) secretNames(project string) []string {
	l.t.Helper()
	var list apiv1.List[apiv1.SecretSummary]
	l.ok(&list, "-o", "json", "secret", "list", "--project", project)
	var names []string
	for _, s := range list.Items {
		names = append(names, s.Name)
	}
	return names
}

// Issue 11: a value written from a file or from stdin is revealed byte for
// byte, to stdout, to a 0600 file and as base64 JSON; versions count up,
// and --expected-version guards the write.
func TestSecretPutAndRevealLive(t *testing.T) {
	for _, b := range apptest.Backends(t) {
		t.Run(string(b), func(t *testing.T) {
			l := newLive(t, b)
			_, p := l.project("secrets", "100.74.0.0/16")
			dir := t.TempDir()
			v1 := append([]byte{0, 0xff, '\r', '\n', 0x1b, '[', '3', '1', 'm'}, make([]byte, 4096)...)
			_, _ = rand.Read(v1[9:])
			v1 = append(v1, '\n')

			r := l.ok(nil, "secret", "put", "db-password", "--project", p, "--file", writeFile(t, dir, "v1", v1))
			if r.stdout != "wrote db-password version 1\n" {
				t.Fatalf("put --file: %q", r.stdout)
			}
			v2 := []byte("second value\n")
			var w apiv1.SecretWriteResult
			r = l.runWith(bytes.NewReader(v2), "-o", "json", "secrets", "put", "db-password", "--project", p, "--from-stdin")
			if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &w) != nil || w.Name != "db-password" || w.CurrentVersion != 2 || w.ProjectID != p {
				t.Fatalf("put --from-stdin -o json: exit %d %q %q", r.code, r.stdout, r.stderr)
			}

			if got := l.ok(nil, "secret", "reveal", "db-password", "--project", p).stdout; got != string(v2) {
				t.Fatalf("reveal: %q, want %q", got, v2)
			}
			if got := l.ok(nil, "secret", "reveal", "db-password", "--project", p, "--version", "1").stdout; got != string(v1) {
				t.Fatalf("reveal --version 1: %d bytes differ from the %d written", len(got), len(v1))
			}
			var rv apiv1.SecretReveal
			l.ok(&rv, "-o", "json", "secret", "reveal", "db-password", "--project", p, "--version", "1")
			if got, err := base64.StdEncoding.DecodeString(rv.Value); err != nil || !bytes.Equal(got, v1) || rv.Version != 1 || rv.Name != "db-password" {
				t.Fatalf("reveal -o json: %+v %v", rv, err)
			}

			// --out replaces a file, even a world-readable one, by a 0600 one.
			out := writeFile(t, dir, "copy", []byte("old contents, longer than the value"))
			if err := os.Chmod(out, 0o644); err != nil {
				t.Fatal(err)
			}
			r = l.ok(nil, "secret", "reveal", "db-password", "--project", p, "--out", out)
			if r.stdout != "wrote db-password version 2 to "+out+"\n" {
				t.Fatalf("reveal --out: %q", r.stdout)
			}
			st, err := os.Stat(out)
			got, _ := os.ReadFile(out)
			if err != nil || st.Mode().Perm() != 0o600 || !bytes.Equal(got, v2) {
				t.Fatalf("--out file: mode %v, %q, %v", st.Mode(), got, err)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 2 {
				t.Fatalf("--out left files behind: %v", ents)
			}

			var vs apiv1.List[apiv1.SecretVersion]
			l.ok(&vs, "-o", "json", "secret", "versions", "db-password", "--project", p)
			if len(vs.Items) != 2 || !slices.ContainsFunc(vs.Items, func(v apiv1.SecretVersion) bool { return v.Version == 2 }) {
				t.Fatalf("versions: %+v", vs.Items)
			}
			if r := l.ok(nil, "secret", "versions", "db-password", "--project", p); !strings.Contains(r.stdout, "VERSION") ||
				strings.Count(r.stdout, "\n") != 3 {
				t.Fatalf("versions table:\n%s", r.stdout)
			}

			l.fails(ExitError, "secret_version_conflict",
				"secret", "put", "db-password", "--project", p, "--file", writeFile(t, dir, "v3", []byte("x")), "--expected-version", "1")
			l.fails(ExitError, "secret_version_conflict",
				"secret", "put", "db-password", "--project", p, "--file", filepath.Join(dir, "v3"), "--expected-version", "0")
			l.ok(nil, "secret", "put", "db-password", "--project", p, "--file", filepath.Join(dir, "v3"), "--expected-version", "2")
			l.ok(nil, "secret", "put", "api-key", "--project", p, "--file", filepath.Join(dir, "v3"), "--expected-version", "0")

			var s apiv1.Secret
			l.ok(&s, "-o", "json", "secret", "get", "db-password", "--project", p)
			if s.Name != "db-password" || s.CurrentVersion != 3 || s.ProjectID != p || s.Bindings != 0 {
				t.Fatalf("get -o json: %+v", s)
			}
			r = l.ok(nil, "secret", "get", "db-password", "--project", p)
			if !strings.Contains(r.stdout, "Current version:") || !strings.Contains(r.stdout, "3") {
				t.Fatalf("get:\n%s", r.stdout)
			}
			l.fails(ExitError, "secret_version_not_found", "secret", "reveal", "db-password", "--project", p, "--version", "99")
		})
	}
}

// Issue 11: put takes the value from a file or stdin only: no flag holds
// it, and a second argument is refused before anything is read or sent.
func TestSecretPutTakesNoValueArgument(t *testing.T) {
	put, _, err := newApp(nil, io.Discard, io.Discard, nil).rootCommand().Find([]string{"secret", "put"})
	if err != nil || put.Name() != "put" {
		t.Fatalf("find secret put: %v", err)
	}
	var flags []string
	put.NonInheritedFlags().VisitAll(func(f *pflag.Flag) { flags = append(flags, f.Name) })
	slices.Sort(flags)
	if want := []string{"expected-version", "file", "from-stdin", "project"}; !slices.Equal(flags, want) {
		t.Fatalf("secret put flags %v, want %v: a flag that takes the value would land in shell history", flags, want)
	}

	l := newLive(t, apptest.SQLite)
	_, p := l.project("noargv", "100.75.0.0/16")
	stdin := strings.NewReader("from-stdin")
	r := l.failsWith(stdin, ExitUsage, "never read from the command line",
		"secret", "put", "db-password", "hunter2", "--project", p, "--from-stdin")
	if stdin.Len() != len("from-stdin") || strings.Contains(r.stderr, "hunter2") {
		t.Fatalf("stdin read (%d left) or value echoed: %q", stdin.Len(), r.stderr)
	}
	l.fails(ExitUsage, "unknown flag: --value", "secret", "put", "db-password", "--project", p, "--value", "hunter2")
	l.fails(ExitUsage, "--file PATH or --from-stdin", "secret", "put", "db-password", "--project", p)
	l.fails(ExitUsage, "not both", "secret", "put", "db-password", "--project", p, "--from-stdin", "--file", "/dev/null")
	if names := l.secretNames(p); len(names) != 0 {
		t.Fatalf("secrets written: %v", names)
	}
}

// Issue 11: bad values and bad command lines fail with a message and a
// non-zero exit; nothing is written.
func TestSecretPutBadInput(t *testing.T) {
	l := newLive(t, apptest.SQLite)
	_, p := l.project("badput", "100.76.0.0/16")
	dir := t.TempDir()
	empty := writeFile(t, dir, "empty", nil)
	big := writeFile(t, dir, "big", make([]byte, maxSecretValue+1))

	l.fails(ExitError, "empty", "secret", "put", "db", "--project", p, "--file", empty)
	l.fails(ExitError, "empty", "secret", "put", "db", "--project", p, "--from-stdin")
	l.fails(ExitError, "larger than 512 KiB", "secret", "put", "db", "--project", p, "--file", big)
	l.fails(ExitError, "no such file", "secret", "put", "db", "--project", p, "--file", filepath.Join(dir, "missing"))
	l.fails(ExitError, "invalid_secret_name", "secret", "put", "Bad_Name", "--project", p, "--file", writeFile(t, dir, "x", []byte("x")))
	l.fails(ExitUsage, "--expected-version must be 0 or more",
		"secret", "put", "db", "--project", p, "--from-stdin", "--expected-version", "-1")
	l.fails(ExitUsage, "project", "secret", "put", "db", "--from-stdin")
	l.fails(ExitUsage, "expected 1 argument(s) (NAME)", "secret", "put", "--project", p, "--from-stdin")
	l.fails(ExitError, "invalid_project_id", "secret", "list", "--project", "not-a-uuid")
	l.fails(ExitError, "secret_not_found", "secret", "get", "nope", "--project", p)
	l.fails(ExitError, "secret_not_found", "secret", "reveal", "nope", "--project", p)
	l.fails(ExitUsage, "--version must be", "secret", "reveal", "nope", "--project", p, "--version", "-2")
	if names := l.secretNames(p); len(names) != 0 {
		t.Fatalf("secrets written: %v", names)
	}

	// The largest value the server holds goes through.
	l.ok(nil, "secret", "put", "max", "--project", p, "--file", writeFile(t, dir, "max", make([]byte, maxSecretValue)))
}

// Issue 11: from a terminal, put says where it reads, drops the newline
// that ends the typed line, and refuses an empty line; reveal to a
// terminal warns on stderr and still prints the exact value.
func TestSecretTerminal(t *testing.T) {
	l := newLive(t, apptest.SQLite)
	_, p := l.project("tty", "100.77.0.0/16")
	pretendTerminal(t, func(f any) bool { _, ok := f.(*strings.Reader); return ok })

	r := l.runWith(strings.NewReader("typed value\n"), "secret", "put", "typed", "--project", p, "--from-stdin")
	if r.code != ExitOK || !strings.Contains(r.stderr, "reading value from stdin (end with Ctrl-D)") {
		t.Fatalf("put from a terminal: exit %d %q", r.code, r.stderr)
	}
	l.failsWith(strings.NewReader("\n"), ExitError, "no value typed", "secret", "put", "typed", "--project", p, "--from-stdin")

	pretendTerminal(t, func(f any) bool { _, ok := f.(*bytes.Buffer); return ok })
	r = l.run("secret", "reveal", "typed", "--project", p)
	if r.code != ExitOK || r.stdout != "typed value" || !strings.Contains(r.stderr, "Warning: printing a secret value to the terminal") {
		t.Fatalf("reveal to a terminal: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	// Piped (not a terminal), the newline is part of the value.
	r = l.runWith(strings.NewReader("piped\n"), "secret", "put", "typed", "--project", p, "--from-stdin")
	if r.code != ExitOK || strings.Contains(r.stderr, "reading value") {
		t.Fatalf("put from a pipe: exit %d %q", r.code, r.stderr)
	}
	pretendTerminal(t, func(any) bool { return false })
	if got := l.ok(nil, "secret", "reveal", "typed", "--project", p).stdout; got != "piped\n" {
		t.Fatalf("reveal: %q", got)
	}
}

// Issue 11: list pages by cursor, bindings deliver to a node or a
// selector's nodes, unbind and delete remove them.
func TestSecretListBindDeleteLive(t *testing.T) {
	l := newLive(t, apptest.SQLite)
	_, p := l.project("bindings", "100.78.0.0/16")
	var tok apiv1.IssuedBootstrapToken
	l.ok(&tok, "-o", "json", "bootstrap-tokens", "create", "--project", p, "--env", "prod", "--max-uses", "2")
	n1, _ := l.register(tok.Token, "db-1")
	l.register(tok.Token, "db-2")
	val := writeFile(t, t.TempDir(), "v", []byte("v"))
	for _, name := range []string{"b-secret", "a-secret", "c-secret"} {
		l.ok(nil, "secret", "put", name, "--project", p, "--file", val)
	}

	r := l.ok(nil, "secret", "list", "--project", p)
	if want := "NAME       VERSION\na-secret   1\nb-secret   1\nc-secret   1\n"; r.stdout != want {
		t.Fatalf("list:\n%s\nwant:\n%s", r.stdout, want)
	}
	var page apiv1.List[apiv1.SecretSummary]
	r = l.ok(&page, "-o", "json", "secret", "list", "--project", p, "--limit", "2")
	if len(page.Items) != 2 || page.NextCursor == "" || page.Items[0].Name != "a-secret" {
		t.Fatalf("list --limit 2: %+v", page)
	}
	var rest apiv1.List[apiv1.SecretSummary]
	l.ok(&rest, "-o", "json", "secret", "list", "--project", p, "--cursor", page.NextCursor)
	if len(rest.Items) != 1 || rest.Items[0].Name != "c-secret" || rest.NextCursor != "" {
		t.Fatalf("list --cursor: %+v", rest)
	}

	var byNode, bySel apiv1.SecretBinding
	l.ok(&byNode, "-o", "json", "secret", "bind", "a-secret", "--project", p, "--node", n1)
	if byNode.ID == "" || byNode.NodeID != n1 || byNode.MatchedNodes != 1 {
		t.Fatalf("bind --node: %+v", byNode)
	}
	r = l.ok(nil, "secret", "bind", "a-secret", "--project", p, "--selector", "!role")
	if !strings.Contains(r.stdout, "Matched nodes:") || !strings.Contains(r.stdout, "2") || !strings.Contains(r.stdout, "Binding:") {
		t.Fatalf("bind --selector:\n%s", r.stdout)
	}
	l.ok(&bySel, "-o", "json", "secret", "bind", "a-secret", "--project", p, "--selector", "role=db")
	if r := l.ok(nil, "secret", "bind", "b-secret", "--project", p, "--selector", "role=db"); !strings.Contains(r.stderr, "matches no node") {
		t.Fatalf("bind matching nothing: %q", r.stderr)
	}
	l.fails(ExitUsage, "exactly one of --node and --selector", "secret", "bind", "a-secret", "--project", p)
	l.fails(ExitUsage, "exactly one of --node and --selector", "secret", "bind", "a-secret", "--project", p, "--node", n1, "--selector", "a=b")
	l.fails(ExitError, "invalid_secret_binding", "secret", "bind", "a-secret", "--project", p, "--selector", "a=")
	l.fails(ExitError, "invalid_secret_binding", "secret", "bind", "a-secret", "--project", p, "--node", "not-a-node")

	var bl apiv1.List[apiv1.SecretBinding]
	l.ok(&bl, "-o", "json", "secret", "bindings", "a-secret", "--project", p)
	if len(bl.Items) != 3 {
		t.Fatalf("bindings: %+v", bl.Items)
	}
	r = l.ok(nil, "secret", "bindings", "a-secret", "--project", p)
	if !strings.Contains(r.stdout, "MATCHED") || !strings.Contains(r.stdout, byNode.ID) || !strings.Contains(r.stdout, "!role") {
		t.Fatalf("bindings table:\n%s", r.stdout)
	}

	r = l.ok(nil, "secret", "unbind", "a-secret", bySel.ID, "--project", p)
	if r.stdout != "binding \""+bySel.ID+"\" of secret \"a-secret\" deleted\n" {
		t.Fatalf("unbind: %q", r.stdout)
	}
	l.fails(ExitError, "secret_binding_not_found", "secret", "unbind", "a-secret", bySel.ID, "--project", p)
	l.fails(ExitUsage, "expected 2 argument(s) (NAME, BINDING_ID)", "secret", "unbind", "a-secret", "--project", p)
	var s apiv1.Secret
	if l.ok(&s, "-o", "json", "secret", "get", "a-secret", "--project", p); s.Bindings != 2 {
		t.Fatalf("get after unbind: %+v", s)
	}

	if r := l.ok(nil, "secret", "delete", "a-secret", "--project", p); r.stdout != "secret \"a-secret\" deleted\n" {
		t.Fatalf("delete: %q", r.stdout)
	}
	var del map[string]string
	l.ok(&del, "-o", "json", "secret", "delete", "b-secret", "--project", p)
	if del["status"] != "deleted" || del["name"] != "b-secret" {
		t.Fatalf("delete -o json: %v", del)
	}
	l.fails(ExitError, "secret_not_found", "secret", "delete", "a-secret", "--project", p)
	l.fails(ExitError, "secret_not_found", "secret", "bindings", "a-secret", "--project", p)
	if names := l.secretNames(p); !slices.Equal(names, []string{"c-secret"}) {
		t.Fatalf("after delete: %v", names)
	}
}
