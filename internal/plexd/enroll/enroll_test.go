package enroll

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/config"
	"github.com/plexsphere/plexsphere/internal/plexd/cpclient"
	"github.com/plexsphere/plexsphere/internal/plexd/identity"
)

const okResponse = `{"node_id":"n1","mesh_ip":"10.100.0.2","signing_public_key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=","node_secret_key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYX","peers":[]}`

// scripted answers registrations with statuses in order, then 201.
func scripted(t *testing.T, statuses ...int) (*cpclient.Client, *[]string) {
	var mu sync.Mutex
	var keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req nodeproto.RegisterRequest
		json.NewDecoder(r.Body).Decode(&req)
		mu.Lock()
		keys = append(keys, req.PublicKey)
		n := len(keys)
		mu.Unlock()
		if n <= len(statuses) {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(statuses[n-1])
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		w.Write([]byte(okResponse))
	}))
	t.Cleanup(srv.Close)
	cl, _ := cpclient.New(cpclient.Options{Server: srv.URL})
	return cl, &keys
}

func opts(t *testing.T, cl *cpclient.Client) Options {
	s, _ := identity.NewStore(t.TempDir())
	return Options{Client: cl, Store: s, Token: "psb_x", MinBackoff: time.Millisecond, Jitter: func() float64 { return 0.5 }}
}

func TestJoinRetriesTransientFailuresWithOneKey(t *testing.T) {
	cl, keys := scripted(t, 503, 500, 429)
	o := opts(t, cl)
	id, err := Join(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(*keys) != 4 {
		t.Fatalf("%d attempts, want 4", len(*keys))
	}
	for _, k := range *keys {
		if k != id.PublicKey {
			t.Fatal("the key pair changed between retries (§4.3)")
		}
	}
	saved, err := o.Store.Load()
	if err != nil || saved.NodeID != "n1" || saved.SigningKeys.Current != saved.RegistrationSigningKey {
		t.Fatalf("saved %+v %v", saved, err)
	}
}

func TestJoinFatalStatuses(t *testing.T) {
	for _, st := range []int{400, 401, 403, 404, 409} {
		cl, keys := scripted(t, st)
		_, err := Join(context.Background(), opts(t, cl))
		if !cpclient.IsStatus(err, st) || len(*keys) != 1 {
			t.Errorf("status %d: err %v after %d attempts, want fatal after 1", st, err, len(*keys))
		}
	}
}

func TestJoinGivesUp(t *testing.T) {
	cl, _ := scripted(t, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503, 503)
	o := opts(t, cl)
	o.RetryFor = 20 * time.Millisecond
	if _, err := Join(context.Background(), o); !cpclient.IsStatus(err, 503) {
		t.Fatalf("err %v, want the last 503 after the retry budget", err)
	}
}

func TestResolveToken(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(file, []byte("  psb_from_file\n"), 0o600)
	prompt := func() (string, error) { return "psb_prompted", nil }
	for name, c := range map[string]struct {
		cfg  config.Config
		want string
		err  string
	}{
		"flag token":            {cfg: config.Config{Token: "psb_flag", Origin: map[config.Key]config.Layer{config.KeyToken: config.LayerFlag}}, want: "psb_flag"},
		"file flag beats env":   {cfg: config.Config{Token: "psb_env", TokenFile: file, Origin: map[config.Key]config.Layer{config.KeyToken: config.LayerEnv, config.KeyTokenFile: config.LayerFlag}}, want: "psb_from_file"},
		"env token beats file":  {cfg: config.Config{Token: "psb_env", TokenFile: file, Origin: map[config.Key]config.Layer{config.KeyToken: config.LayerEnv, config.KeyTokenFile: config.LayerFile}}, want: "psb_env"},
		"both in one layer":     {cfg: config.Config{Token: "psb_a", TokenFile: file, Origin: map[config.Key]config.Layer{config.KeyToken: config.LayerFlag, config.KeyTokenFile: config.LayerFlag}}, err: "both"},
		"prompt":                {cfg: config.Config{Origin: map[config.Key]config.Layer{}}, want: "psb_prompted"},
		"missing file":          {cfg: config.Config{TokenFile: "/nonexistent", Origin: map[config.Key]config.Layer{config.KeyTokenFile: config.LayerFlag}}, err: "token file"},
		"control chars in file": {cfg: config.Config{TokenFile: writeTmp(t, "psb_\x01x"), Origin: map[config.Key]config.Layer{config.KeyTokenFile: config.LayerFlag}}, err: "printable"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := ResolveToken(&c.cfg, prompt)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %q %v, want %q", got, err, c.want)
			}
		})
	}
	if _, err := ResolveToken(&config.Config{Origin: map[config.Key]config.Layer{}}, nil); !errors.Is(err, ErrNoToken) {
		t.Errorf("no source and no prompt: %v", err)
	}
}

func writeTmp(t *testing.T, s string) string {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte(s), 0o600)
	return p
}

// Issue 7 row 2, level 2: a registration replay of a level-2 node carries
// the NSK only sealed to the node's WireGuard key; Join opens it with the
// key pair of the run and saves it, and refuses an answer sealed to
// another key.
func TestJoinOpensTheSealedNSK(t *testing.T) {
	const nsk = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"
	for _, wrongKey := range []bool{false, true} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var req nodeproto.RegisterRequest
			json.NewDecoder(r.Body).Decode(&req)
			to := req.PublicKey
			if wrongKey {
				kp, _ := identity.NewKeyPair(nil)
				to = kp.Public
			}
			sealed, err := nodeproto.SealNSK(nil, to, "n1", nsk)
			if err != nil {
				t.Error(err)
			}
			resp := nodeproto.RegisterResponse{NodeID: "n1", MeshIP: "10.100.0.2",
				SigningPublicKey: "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", NodeSecretKeySealed: sealed}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(201)
			json.NewEncoder(w).Encode(resp)
		}))
		cl, _ := cpclient.New(cpclient.Options{Server: srv.URL})
		o := opts(t, cl)
		id, err := Join(context.Background(), o)
		srv.Close()
		if wrongKey {
			if err == nil || !errors.Is(err, nodeproto.ErrSealedNSK) {
				t.Fatalf("an NSK sealed to another key was accepted: %v", err)
			}
			continue
		}
		if err != nil || id.NSK != nsk {
			t.Fatalf("join: %+v %v", id, err)
		}
		if saved, err := o.Store.Load(); err != nil || saved.NSK != nsk {
			t.Fatalf("saved %+v %v", saved, err)
		}
	}
}
