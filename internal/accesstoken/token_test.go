package accesstoken

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
)

func key(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed([]byte(strings.Repeat(string(rune('a'+seed)), 32)))
}

func claims(now time.Time) Claims {
	return Claims{
		Issuer: DomainIssuer("d1"), Subject: "u1", ID: "s1", Kind: KindSSH,
		Audience: jwt.Audience{ResourceAudience("r1"), NodeAudience("n1")},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
		Expiry: jwt.NewNumericDate(now.Add(5 * time.Minute)),
		Target: Target{SSH: &nodeproto.SSHTarget{User: "root"}}, AuthorizedKey: "ssh-ed25519 AAAA", Source: "100.64.0.1",
	}
}

func TestSignIsDeterministicAndVerifies(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	k := key(0)
	a, err := SignWithKey("kid1", k, claims(now))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := SignWithKey("kid1", k, claims(now))
	if a != b {
		t.Fatal("the same claims gave two tokens")
	}
	c, err := Verify(a, []ed25519.PublicKey{key(1).Public().(ed25519.PublicKey), k.Public().(ed25519.PublicKey)}, NodeAudience("n1"), now.Add(time.Minute))
	if err != nil || c.ID != "s1" || c.Target.User() != "root" || c.Source != "100.64.0.1" {
		t.Fatalf("verify: %+v %v", c, err)
	}
	if u, err := Unverified(a); err != nil || u.ID != "s1" {
		t.Fatalf("unverified: %+v %v", u, err)
	}
}

func TestVerifyRefusals(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	k := key(0)
	pub := []ed25519.PublicKey{k.Public().(ed25519.PublicKey)}
	good, _ := SignWithKey("kid1", k, claims(now))
	other, _ := SignWithKey("kid1", key(2), claims(now))
	noJTI := claims(now)
	noJTI.ID = ""
	noJTIToken, _ := SignWithKey("kid1", k, noJTI)
	parts := strings.Split(good, ".")
	body, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(body), `"sub":"u1"`, `"sub":"u2"`, 1))) + "." + parts[2]
	cases := []struct {
		name  string
		token string
		aud   string
		at    time.Time
		want  error
	}{
		{"wrong key", other, NodeAudience("n1"), now, ErrSignature},
		{"wrong audience", good, NodeAudience("n2"), now, ErrAudience},
		{"expired", good, NodeAudience("n1"), now.Add(6 * time.Minute), ErrExpired},
		{"not yet", good, NodeAudience("n1"), now.Add(-time.Minute), ErrNotYet},
		{"garbage", "x.y.z", NodeAudience("n1"), now, ErrMalformed},
		{"empty", "", NodeAudience("n1"), now, ErrMalformed},
		{"oversized", strings.Repeat("a", MaxTokenBytes+1), NodeAudience("n1"), now, ErrMalformed},
		{"tampered payload", forged, NodeAudience("n1"), now, ErrSignature},
		{"alg none", "eyJhbGciOiJub25lIn0." + parts[1] + ".", NodeAudience("n1"), now, ErrMalformed},
		{"no jti", noJTIToken, NodeAudience("n1"), now, ErrMalformed},
	}
	for _, tc := range cases {
		if _, err := Verify(tc.token, pub, tc.aud, tc.at); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func FuzzVerify(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	k := key(0)
	good, _ := SignWithKey("kid1", k, claims(now))
	f.Add(good)
	f.Add("a.b.c")
	pub := []ed25519.PublicKey{k.Public().(ed25519.PublicKey)}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := Verify(tok, pub, NodeAudience("n1"), now)
		if err == nil && (c.ID == "" || c.Kind == "") {
			t.Fatalf("accepted claims without jti or kind: %+v", c)
		}
	})
}
