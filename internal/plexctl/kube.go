package plexctl

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
)

// Kubernetes client-side constants.
const (
	execCredentialAPIVersion = "client.authentication.k8s.io/v1"
	// credentialMargin: a cached session token is reused until this long
	// before it expires.
	credentialMargin = 30 * time.Second
	kubePrefix       = "plexsphere-"
)

// execCredential is the answer of an exec credential plugin.
type execCredential struct {
	APIVersion string               `json:"apiVersion"`
	Kind       string               `json:"kind"`
	Status     execCredentialStatus `json:"status"`
}

type execCredentialStatus struct {
	Token               string `json:"token"`
	ExpirationTimestamp string `json:"expirationTimestamp"`
}

func (a *app) kubeCommand() *cobra.Command {
	cmd := a.group(&cobra.Command{
		Use:   "kube",
		Short: "Reach a node's Kubernetes API through the control plane (kubectl)",
		Long: `Reach the Kubernetes API served by a node through the control plane's
session gateway. 'plexctl kube login' writes a kubeconfig entry whose
credential is an exec plugin, 'plexctl kube credential': kubectl runs it
and gets a k8s session token, which the node accepts while the session
lives, impersonating you (or --user / --group).`,
		Example: `  plexctl kube login k8s-cp-1 --set-context
  kubectl get pods -A`,
	})
	cmd.AddCommand(a.kubeLoginCommand(), a.kubeCredentialCommand())
	return cmd
}

// kubeLoginOptions are the flags of 'plexctl kube login'.
type kubeLoginOptions struct {
	project    string
	user       string
	groups     []string
	kubeconfig string
	setContext bool
	caFile     string
	ttl        time.Duration
}

func (a *app) kubeLoginCommand() *cobra.Command {
	var o kubeLoginOptions
	cmd := &cobra.Command{
		Use:   "login CLUSTER",
		Short: "Write a kubeconfig cluster, user and context for a node's Kubernetes API",
		Long: `Write a kubeconfig entry for the Kubernetes API that CLUSTER serves. CLUSTER
is the node id or name of that node (as for 'plexctl ssh'); its Resource
is what sessions are issued for.

The entry is named plexsphere-CLUSTER (cluster, user and context). The
cluster's server is <control plane>/v1/projects/<project>/resources/
<resource>/kube; the user is an exec credential plugin running this
plexctl ('kube credential') with this server and config file, so kubectl
works from any directory. Other entries of the file are kept.

The file is --kubeconfig, else the first existing file of $KUBECONFIG
(the last one when none exists), else ~/.kube/config. --set-context also
makes the context current. For an https control plane with a private CA,
pass --certificate-authority to embed it.`,
		Example: `  plexctl kube login k8s-cp-1 --set-context
  plexctl kube login 0190c0de-…-0007 --group system:masters --kubeconfig ./kubeconfig
  kubectl --context plexsphere-k8s-cp-1 get nodes`,
		Args: exactArgs("CLUSTER"),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		if o.ttl < 0 {
			return usagef("--ttl must not be negative")
		}
		return a.kubeLogin(cmd.Context(), args[0], o)
	})
	f := cmd.Flags()
	f.StringVar(&o.project, "project", "", "Project id: look CLUSTER up in this Project only")
	f.StringVar(&o.user, "user", "", "Kubernetes user to impersonate (default: your name)")
	f.StringArrayVar(&o.groups, "group", nil, "Kubernetes group to impersonate (repeatable)")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file to write (default $KUBECONFIG, else ~/.kube/config)")
	f.BoolVar(&o.setContext, "set-context", false, "make the context the current one")
	f.StringVar(&o.caFile, "certificate-authority", "", "PEM file of the control plane's CA, embedded in the entry")
	f.DurationVar(&o.ttl, "ttl", 0, "requested lifetime of each session token (server default and maximum apply)")
	return calls(cmd, "listNodes", "getNode")
}

// kubeLoginResult is what 'kube login' prints with -o json.
type kubeLoginResult struct {
	Kubeconfig string `json:"kubeconfig"`
	Context    string `json:"context"`
	Server     string `json:"server"`
	ProjectID  string `json:"project_id"`
	ResourceID string `json:"resource_id"`
	Current    bool   `json:"current"`
}

func (a *app) kubeLogin(ctx context.Context, cluster string, o kubeLoginOptions) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	node, err := resolveNode(ctx, c, cluster, o.project)
	if err != nil {
		return err
	}
	path, err := a.kubeconfigPath(o.kubeconfig)
	if err != nil {
		return err
	}
	entry, err := a.kubeEntry(c, kubePrefix+cluster, node.ProjectID, node.ResourceID, o)
	if err != nil {
		return err
	}
	if err := mergeKubeconfig(path, entry, o.setContext); err != nil {
		return err
	}
	res := kubeLoginResult{Kubeconfig: path, Context: entry.name, Server: entry.server,
		ProjectID: node.ProjectID, ResourceID: node.ResourceID, Current: o.setContext}
	if a.flags.output != formatTable {
		return a.encode(res)
	}
	fmt.Fprintf(a.stdout, "Wrote context %s to %s (server %s)\n", res.Context, path, res.Server)
	if o.setContext {
		fmt.Fprintf(a.stdout, "Current context is now %s\n", res.Context)
	} else {
		fmt.Fprintf(a.stdout, "Use it with: kubectl --context %s …\n", res.Context)
	}
	return nil
}

// kubeEntry builds the kubeconfig entry for one Resource.
func (a *app) kubeEntry(c *apiclient.Client, name, project, resource string, o kubeLoginOptions) (kubeEntry, error) {
	e := kubeEntry{name: name, server: c.BaseURL() + "/v1/projects/" + url.PathEscape(project) +
		"/resources/" + url.PathEscape(resource) + "/kube"}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return e, fmt.Errorf("--certificate-authority: %w", err)
		}
		if !strings.Contains(string(pem), "-----BEGIN CERTIFICATE-----") {
			return e, usagef("--certificate-authority %s is not a PEM certificate", o.caFile)
		}
		e.caData = base64.StdEncoding.EncodeToString(pem)
	}
	self, err := a.executable()
	if err != nil {
		return e, err
	}
	cfg, err := a.configPath()
	if err != nil {
		return e, err
	}
	if cfg, err = filepath.Abs(cfg); err != nil {
		return e, err
	}
	e.command = self
	e.env = map[string]string{envConfig: cfg}
	e.args = append([]string{"--server", c.BaseURL()}, a.credentialContext()...)
	e.args = append(e.args, "kube", "credential", "--project", project, "--resource", resource)
	if o.user != "" {
		e.args = append(e.args, "--user", o.user)
	}
	for _, g := range o.groups {
		e.args = append(e.args, "--group", g)
	}
	if o.ttl > 0 {
		e.args = append(e.args, "--ttl", o.ttl.String())
	}
	if len(a.credentialContext()) == 0 && firstOf(a.flags.token, a.env(envToken)) != "" {
		fmt.Fprintf(a.stderr, "Note: your token is not in a saved context; kubectl must run with %s set "+
			"(or save it: plexctl config set-context)\n", envToken)
	}
	return e, nil
}

// credentialContext names the saved context the credential plugin must
// use: --context, else the current context when it is this server's.
func (a *app) credentialContext() []string {
	if a.flags.context != "" {
		return []string{"--context", a.flags.context}
	}
	sc, err := a.selectedContext()
	if err != nil || sc == nil {
		return nil
	}
	if conn, err := a.resolve(); err != nil || !sameServer(conn.server, sc.Server) {
		return nil
	}
	return []string{"--context", sc.Name}
}

// kubeconfigPath picks the file to write: the flag, else the first
// existing file of $KUBECONFIG (its last when none exists), else
// ~/.kube/config.
func (a *app) kubeconfigPath(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if list := filepath.SplitList(a.env("KUBECONFIG")); len(list) > 0 {
		var last string
		for _, p := range list {
			if p == "" {
				continue
			}
			last = p
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
		if last != "" {
			return last, nil
		}
	}
	home := a.env("HOME")
	if home == "" {
		return "", errors.New("cannot place the kubeconfig: pass --kubeconfig, or set KUBECONFIG or HOME")
	}
	return filepath.Join(home, ".kube", "config"), nil
}

// kubeCredentialOptions are the flags of 'plexctl kube credential'.
type kubeCredentialOptions struct {
	project  string
	resource string
	user     string
	groups   []string
	ttl      time.Duration
	noCache  bool
}

func (a *app) kubeCredentialCommand() *cobra.Command {
	var o kubeCredentialOptions
	cmd := &cobra.Command{
		Use:   "credential",
		Short: "Print a Kubernetes ExecCredential holding a k8s session token (for kubectl)",
		Long: `Issue a k8s session for a Resource's Kubernetes API and print it as an
ExecCredential (client.authentication.k8s.io/v1) on stdout. kubectl runs
this through the exec entry 'plexctl kube login' writes, and runs it again
when the token expires.

The token is cached in plexctl's config directory (mode 0600) and reused
until 30 seconds before it expires, so that kubectl calls do not each
issue a session. --no-cache always issues a new one. The session
impersonates --user (default: your name from 'plexctl whoami') and the
--group values.`,
		Example: `  plexctl kube credential --project 0190c0de-… --resource 0190c0de-…-0003
  plexctl kube credential --project 0190c0de-… --resource 0190c0de-…-0003 --user alice --group dev`,
		Args: exactArgs(),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		if o.ttl < 0 {
			return usagef("--ttl must not be negative")
		}
		cred, err := a.kubeCredential(cmd.Context(), o)
		if err != nil {
			return err
		}
		return writeJSON(a.stdout, cred)
	})
	f := cmd.Flags()
	f.StringVar(&o.project, "project", "", "Project id (required)")
	f.StringVar(&o.resource, "resource", "", "Resource id of the cluster (required)")
	f.StringVar(&o.user, "user", "", "Kubernetes user to impersonate (default: your name)")
	f.StringArrayVar(&o.groups, "group", nil, "Kubernetes group to impersonate (repeatable)")
	f.DurationVar(&o.ttl, "ttl", 0, "requested session lifetime (server default and maximum apply)")
	f.BoolVar(&o.noCache, "no-cache", false, "issue a new session even when a cached token is still valid")
	_ = cmd.MarkFlagRequired("project")
	_ = cmd.MarkFlagRequired("resource")
	return calls(cmd, "whoami", "IssueSession")
}

// cachedCredential is one cached k8s session token.
type cachedCredential struct {
	SessionID string    `json:"session_id"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (a *app) kubeCredential(ctx context.Context, o kubeCredentialOptions) (*execCredential, error) {
	conn, err := a.resolve()
	if err != nil {
		return nil, err
	}
	c, err := a.client()
	if err != nil {
		return nil, err
	}
	cachePath, err := a.credentialCachePath(conn, o)
	if err != nil {
		return nil, err
	}
	if !o.noCache {
		if cc := readCachedCredential(cachePath); cc != nil && a.now().Add(credentialMargin).Before(cc.ExpiresAt) {
			return toExecCredential(cc), nil
		}
	}
	user := o.user
	if user == "" {
		who, err := c.Whoami(ctx)
		if err != nil {
			return nil, fmt.Errorf("find your name for the Kubernetes user (or pass --user): %w", err)
		}
		user = firstOf(who.Email, who.Subject)
	}
	iss, err := c.IssueSession(ctx, o.project, apiclient.IssueSessionRequest{
		ResourceID: o.resource, Kind: apiclient.SessionKindK8s,
		Target:              apiclient.SessionTarget{K8s: &apiclient.K8sTarget{User: user, ImpersonateGroups: o.groups}},
		RequestedTTLSeconds: ttlSeconds(o.ttl),
	})
	if err != nil {
		return nil, accessError(err)
	}
	cc := &cachedCredential{SessionID: iss.SessionID, Token: iss.Token, ExpiresAt: iss.ExpiresAt}
	if err := writeCachedCredential(cachePath, cc); err != nil {
		fmt.Fprintf(a.stderr, "Warning: cannot cache the session token: %v\n", err)
	}
	return toExecCredential(cc), nil
}

func toExecCredential(cc *cachedCredential) *execCredential {
	return &execCredential{APIVersion: execCredentialAPIVersion, Kind: "ExecCredential",
		Status: execCredentialStatus{Token: cc.Token, ExpirationTimestamp: cc.ExpiresAt.UTC().Format(time.RFC3339)}}
}

// credentialCachePath is <config dir>/kube-cache/<key>.json, the key
// hashing everything that selects the credential, the operator's own
// token included (so that another identity never reuses it).
func (a *app) credentialCachePath(conn connection, o kubeCredentialOptions) (string, error) {
	dir, err := a.configDir()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, part := range append([]string{conn.server, conn.token, o.project, o.resource, o.user}, o.groups...) {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return filepath.Join(dir, "kube-cache", hex.EncodeToString(h.Sum(nil))[:32]+".json"), nil
}

func readCachedCredential(path string) *cachedCredential {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var cc cachedCredential
	if json.Unmarshal(data, &cc) != nil || cc.Token == "" {
		return nil
	}
	return &cc
}

func writeCachedCredential(path string, cc *cachedCredential) error {
	data, err := json.Marshal(cc)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := writeFileAtomic(path, data, 0o600); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}
