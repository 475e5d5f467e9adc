package relaywire

import (
	"bytes"
	"testing"

	"github.com/google/uuid"
)

func TestRoundTrip(t *testing.T) {
	s := uuid.New()
	var tok [TokenLen]byte
	tok[0], tok[31] = 1, 2
	d, err := Parse(Bind(s, tok))
	if err != nil || d.Kind != KindBind || d.Session != s || !TokenEqual(d.Token, tok) {
		t.Fatalf("bind: %+v %v", d, err)
	}
	wg := []byte{4, 0, 0, 0, 9, 9}
	d, err = Parse(Data(s, wg))
	if err != nil || d.Kind != KindData || !bytes.Equal(d.Payload, wg) {
		t.Fatalf("data: %+v %v", d, err)
	}
	if d, err = Parse(Ack(s)); err != nil || d.Kind != KindAck {
		t.Fatalf("ack: %+v %v", d, err)
	}
	got, err := ParseToken(FormatToken(tok))
	if err != nil || got != tok {
		t.Fatalf("token: %v", err)
	}
}

func TestRejects(t *testing.T) {
	for _, b := range [][]byte{
		{1, 0, 0, 0, 1, 2, 3},                // WireGuard initiation
		{0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42}, // STUN
		[]byte("PXRB short"),
		append([]byte("PXRA"), make([]byte, 17)...),
	} {
		if _, err := Parse(b); err == nil {
			t.Errorf("Parse(%q) accepted", b)
		}
	}
	if _, err := ParseToken("AAAA"); err == nil {
		t.Error("short token accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Bind(uuid.New(), [TokenLen]byte{}))
	f.Add(Data(uuid.New(), []byte{1, 0, 0, 0}))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b)
		if err != nil {
			return
		}
		if d.Kind == KindData && len(d.Payload) != len(b)-HeaderLen {
			t.Fatal("payload length")
		}
	})
}
