package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

// Built-in action names beyond nodeproto's gather_info and ping.
const (
	BuiltinServiceRestart    = "service.restart"
	BuiltinFileRead          = "file.read"
	BuiltinDiagnosticsBundle = "diagnostics.bundle"
	// BuiltinCancel cancels another execution (parameter execution_id):
	// the protocol has no cancel message, so cancellation is an action.
	// It is admitted even when MaxConcurrent executions run.
	BuiltinCancel = "cancel"
)

// Bounds of parameter values.
const (
	maxParams     = 32
	maxParamValue = 16 << 10
)

// builtinActions is the table of built-ins with their schemas.
func (e *Executor) builtinActions() map[string]*action {
	p := func(name, typ string, required bool, desc string) nodeproto.ActionParam {
		return nodeproto.ActionParam{Name: name, Type: typ, Required: required, Description: desc}
	}
	list := []*action{
		{name: nodeproto.BuiltinGatherInfo, description: "Report hostname, OS, architecture, Go version, mesh IP, peer count and node id as JSON",
			params: []nodeproto.ActionParam{}, run: e.gatherInfo},
		{name: nodeproto.BuiltinPing, description: "Check that an IP answers: the system ping (3 probes), else TCP connects to ports 22, 443 and 80",
			params: []nodeproto.ActionParam{p("target", TypeIP, true, "the IP address to reach")}, run: e.ping},
		{name: BuiltinServiceRestart, description: "Restart a systemd unit from the node's allow-list (--actions-service-allow)",
			params: []nodeproto.ActionParam{p("unit", TypeString, true, "the systemd unit, e.g. nginx.service")}, run: e.serviceRestart},
		{name: BuiltinFileRead, description: "Print a file under an allow-listed prefix (--actions-file-allow), at most 1 MiB",
			params: []nodeproto.ActionParam{p("path", TypePath, true, "absolute path of the file"),
				p("encoding", TypeString, false, "text (default) or base64")}, run: e.fileRead},
		{name: BuiltinDiagnosticsBundle, description: "plexd's status and recent log lines as a base64 tar.gz on stdout (at most 1 MiB)",
			params: []nodeproto.ActionParam{p("lines", TypeInt, false, "how many recent log lines (default and maximum 1000)")}, run: e.diagnosticsBundle},
		{name: BuiltinCancel, description: "Cancel a running execution of this node",
			params: []nodeproto.ActionParam{p("execution_id", TypeString, true, "the execution to cancel")}, run: e.cancelAction},
	}
	m := make(map[string]*action, len(list))
	for _, a := range list {
		m[a.name] = a
	}
	return m
}

// ErrParameters marks a request whose parameters do not fit the schema.
var ErrParameters = errors.New("invalid parameters")

// checkParams checks got against the declared schema: no unknown names,
// every required one present and non-empty, values of their type.
func checkParams(decl []nodeproto.ActionParam, got map[string]string) error {
	if len(got) > maxParams {
		return fmt.Errorf("%w: more than %d parameters", ErrParameters, maxParams)
	}
	names := make([]string, 0, len(got))
	for name := range got {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		i := slices.IndexFunc(decl, func(p nodeproto.ActionParam) bool { return p.Name == name })
		if i < 0 {
			return fmt.Errorf("%w: unknown parameter %q", ErrParameters, name)
		}
		if err := checkValue(decl[i], got[name]); err != nil {
			return err
		}
	}
	for _, p := range decl {
		if p.Required && got[p.Name] == "" {
			return fmt.Errorf("%w: missing required parameter %q", ErrParameters, p.Name)
		}
	}
	return nil
}

func checkValue(p nodeproto.ActionParam, v string) error {
	bad := func(what string) error { return fmt.Errorf("%w: parameter %q is not %s", ErrParameters, p.Name, what) }
	if len(v) > maxParamValue || strings.IndexByte(v, 0) >= 0 {
		return bad("text of at most 16 KiB without NUL")
	}
	if v == "" {
		return nil
	}
	var err error
	switch p.Type {
	case TypeInt:
		_, err = strconv.ParseInt(v, 10, 64)
	case TypeBool:
		_, err = strconv.ParseBool(v)
	case TypeIP:
		_, err = netip.ParseAddr(v)
	case TypePath:
		if !strings.HasPrefix(v, "/") {
			err = errors.New("relative")
		}
	}
	if err != nil {
		return bad("a valid " + p.Type)
	}
	return nil
}

// gatherInfo prints nodeproto.GatherInfo.
func (e *Executor) gatherInfo(_ context.Context, _ *execution, stdout, _ io.Writer) (int, error) {
	raw, err := json.Marshal(e.info())
	if err != nil {
		return -1, err
	}
	stdout.Write(raw)
	return 0, nil
}

func (e *Executor) info() nodeproto.GatherInfo {
	host, _ := os.Hostname()
	st := e.opts.Status()
	return nodeproto.GatherInfo{Hostname: host, OS: runtime.GOOS, Arch: runtime.GOARCH, GoVersion: runtime.Version(),
		MeshIP: st.MeshIP, PeerCount: st.PeerCount, NodeID: e.opts.NodeID}
}

// ping runs the system ping, or TCP probes where there is none.
func (e *Executor) ping(ctx context.Context, x *execution, stdout, stderr io.Writer) (int, error) {
	target := netip.MustParseAddr(x.req.Parameters["target"]).Unmap().String()
	code, err := e.opts.Exec(ctx, "ping", []string{"-c", "3", "-W", "1", target}, stdout, stderr)
	if errors.Is(err, exec.ErrNotFound) {
		return tcpProbe(ctx, target, stdout)
	}
	return code, err
}

// probePorts are tried by tcpProbe.
var probePorts = []string{"22", "443", "80"}

// tcpProbe needs no privileges: a completed or refused connection both
// prove the host answers.
func tcpProbe(ctx context.Context, target string, stdout io.Writer) (int, error) {
	fmt.Fprintf(stdout, "no ping command; TCP probes to %s\n", target)
	code := 1
	for _, port := range probePorts {
		d := net.Dialer{Timeout: time.Second}
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(target, port))
		switch {
		case err == nil:
			c.Close()
			fmt.Fprintf(stdout, "tcp/%s: open\n", port)
			code = 0
		case errors.Is(err, syscall.ECONNREFUSED):
			fmt.Fprintf(stdout, "tcp/%s: refused (host answers)\n", port)
			code = 0
		default:
			fmt.Fprintf(stdout, "tcp/%s: no answer\n", port)
		}
		if ctx.Err() != nil {
			return -1, ctx.Err()
		}
	}
	if code == 0 {
		fmt.Fprintf(stdout, "%s is reachable\n", target)
	} else {
		fmt.Fprintf(stdout, "%s did not answer\n", target)
	}
	return code, nil
}

// cancelAction cancels another execution; exit code 1 when it was not
// running.
func (e *Executor) cancelAction(_ context.Context, x *execution, stdout, _ io.Writer) (int, error) {
	id := x.req.Parameters["execution_id"]
	if id == x.req.ExecutionID {
		return -1, errors.New("an execution cannot cancel itself")
	}
	if !e.Cancel(id) {
		fmt.Fprintf(stdout, "execution %s is not running\n", id)
		return 1, nil
	}
	fmt.Fprintf(stdout, "execution %s cancelled\n", id)
	return 0, nil
}
