package devidp_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/plexsphere/plexsphere/internal/devidp"
)

// TestClientCredentials: a confidential client gets a token for its own
// secret only; a public client cannot use the grant.
func TestClientCredentials(t *testing.T) {
	sw := &swap{}
	ts := httptest.NewServer(sw)
	t.Cleanup(ts.Close)
	p, err := devidp.New(devidp.Config{Issuer: ts.URL, Users: []devidp.User{{ID: "carol", Name: "Carol"}},
		Clients: []devidp.Client{{ID: "ci", Secret: "ci-secret"}, {ID: "cli"}},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	sw.h = p.Handler()
	grant := func(id, secret string) error {
		cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: p.Issuer() + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInHeader}
		tok, err := cfg.Token(context.Background())
		if err == nil && tok.AccessToken == "" {
			return errors.New("empty access token")
		}
		return err
	}
	if err := grant("ci", "ci-secret"); err != nil {
		t.Fatalf("right secret: %v", err)
	}
	for _, c := range [][2]string{{"ci", "wrong"}, {"cli", ""}, {"nobody", "x"}} {
		var re *oauth2.RetrieveError
		if err := grant(c[0], c[1]); !errors.As(err, &re) || re.Response.StatusCode/100 != 4 {
			t.Fatalf("%s/%q: %v", c[0], c[1], err)
		}
	}
}
