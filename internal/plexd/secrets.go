package plexd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/config"
	"github.com/plexsphere/plexsphere/internal/plexd/localapi"
)

// maxLocalAnswer bounds what the CLI reads from the local API.
const maxLocalAnswer = 16 << 20

func (a *app) secretsCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "List the secrets bound to this node and read their values",
		Long: `List the secrets bound to this node and read their values.

Both commands ask the running agent (plexd up) over its local socket. Values
are fetched live from the control plane on every read, decrypted in the
agent's memory and never written to disk. Reading a value needs root, plexd's
own user, or membership of the secrets group (default plexd-secrets, see
--secrets-group); the list is readable by anyone who may use the socket.`,
		Args: cobra.NoArgs,
	}
	cmd.PersistentFlags().StringVarP(&output, "output", "o", "text", "text or json")
	checkOutput := func() error {
		if output != "text" && output != "json" {
			return usageError{fmt.Errorf("-o %q: want text or json", output)}
		}
		return nil
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the secrets bound to this node with their current versions",
		Example: `  plexd secrets list
  plexd secrets list -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(); err != nil {
				return err
			}
			return a.secretsList(cmd.Context(), output)
		},
	}
	get := &cobra.Command{
		Use:   "get NAME",
		Short: "Print the current value of one secret",
		Long: `Print the current value of one secret.

In text mode the value is written to stdout exactly as stored, without a
trailing newline, so it can be piped or captured unchanged. In json mode the
answer is {"key", "value", "version"}.`,
		Example: `  plexd secrets get db-password > /run/app/db-password
  plexd secrets get db-password -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(); err != nil {
				return err
			}
			return a.secretsGet(cmd.Context(), args[0], output)
		},
	}
	cmd.AddCommand(list, get)
	return cmd
}

func (a *app) secretsList(ctx context.Context, output string) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	var refs []nodeproto.SecretRef
	if err := localGet(ctx, cfg.Socket, "/v1/state/secrets", &refs); err != nil {
		return secretsError(err, "", cfg)
	}
	if refs == nil {
		refs = []nodeproto.SecretRef{}
	}
	if output == "json" {
		enc := json.NewEncoder(a.env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(refs)
	}
	printSecretRefs(a.env.Stdout, refs)
	return nil
}

func (a *app) secretsGet(ctx context.Context, name, output string) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	var v localapi.SecretValue
	if err := localGet(ctx, cfg.Socket, "/v1/state/secrets/"+url.PathEscape(name), &v); err != nil {
		return secretsError(err, name, cfg)
	}
	if output == "json" {
		enc := json.NewEncoder(a.env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	_, err = io.WriteString(a.env.Stdout, v.Value)
	return err
}

// secretsError turns a local API failure into the message the user acts
// on; name is "" for the list.
func secretsError(err error, name string, cfg *config.Config) error {
	var le *localError
	switch {
	case errors.Is(err, syscall.EACCES) && name == "":
		return fmt.Errorf("permission denied: cannot connect to %s; run as root or a user allowed on the socket", cfg.Socket)
	case errors.Is(err, syscall.EACCES), errors.As(err, &le) && le.status == http.StatusForbidden:
		return fmt.Errorf("permission denied: run as root or a member of group %s", cfg.SecretsGroup)
	case errors.As(err, &le) && le.status == http.StatusNotFound && name != "":
		return fmt.Errorf("secret %q not found: it does not exist or is not bound to this node", name)
	case errors.As(err, &le) && le.status == http.StatusServiceUnavailable:
		return errors.New("the control plane is unavailable; try again later")
	case errors.As(err, &le) && le.status == http.StatusInternalServerError && name != "":
		return fmt.Errorf("secret %q could not be decrypted on this node; see plexd's log", name)
	case errors.As(err, &le):
		return err
	}
	return fmt.Errorf("plexd is not running or its local API is unreachable: %w", err)
}

func printSecretRefs(w io.Writer, refs []nodeproto.SecretRef) {
	if len(refs) == 0 {
		fmt.Fprintln(w, "No secrets are bound to this node.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION")
	for _, r := range refs {
		fmt.Fprintf(tw, "%s\t%d\n", r.Key, r.Version)
	}
	tw.Flush()
}

// localError is a non-200 answer of the local API.
type localError struct {
	status int
	msg    string
}

func (e *localError) Error() string {
	if e.msg == "" {
		return fmt.Sprintf("local API: HTTP %d", e.status)
	}
	return fmt.Sprintf("local API: HTTP %d: %s", e.status, e.msg)
}

// socketClient talks HTTP to the agent's local API over its Unix socket.
func socketClient(socket string) *http.Client {
	return &http.Client{
		Timeout: 35 * time.Second, // a secret read waits for the control plane (30 s)
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}},
	}
}

// localGet reads path from the local API into out; a non-200 answer is a
// *localError carrying the API's {"error"} message.
func localGet(ctx context.Context, socket, path string, out any) error {
	hc := socketClient(socket)
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://plexd"+path, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxLocalAnswer))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		json.Unmarshal(raw, &e)
		return &localError{status: resp.StatusCode, msg: e.Error}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("local API: %s: %w", path, err)
	}
	return nil
}
