package stun

import (
	"context"
	"net"
	"testing"
	"time"
)

func TestServerAnswersOverUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(pc, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()

	client, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.WriteTo([]byte("not stun at all, just noise"), srv.Addr()); err != nil {
		t.Fatal(err)
	}
	req, id := NewBindingRequest()
	if _, err := client.WriteTo(req, srv.Addr()); err != nil {
		t.Fatal(err)
	}
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	n, _, err := client.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	gotID, addr, err := ParseBindingResponse(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	if gotID != id || addr.String() != client.LocalAddr().String() {
		t.Fatalf("got %x %s, want %x %s", gotID, addr, id, client.LocalAddr())
	}
	answered, dropped := srv.Stats()
	if answered != 1 || dropped != 1 {
		t.Errorf("stats answered=%d dropped=%d, want 1 and 1", answered, dropped)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
}
