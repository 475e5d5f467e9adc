package wg

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"
)

// driver is the device under an engine: wireguard-go (userspace and
// netstack) or the kernel module.
type driver interface {
	apply(d *delta) error
	// observe reads every peer's endpoint, handshake and counters.
	observe() (map[[32]byte]peerObs, error)
	close() error
}

// peerObs is what the device reports about one peer.
type peerObs struct {
	endpoint  string // UAPI form ("" none)
	handshake time.Time
	rx, tx    int64
}

// wggo drives a wireguard-go device and serves its UAPI socket.
type wggo struct {
	dev *device.Device
	// uapi is the UAPI listener (nil for netstack engines without a dir).
	uapi     net.Listener
	sockPath string
	done     sync.WaitGroup
}

// newWGGo starts a wireguard-go device on t and b. sockPath "" serves no
// UAPI socket.
func newWGGo(t tun.Device, b *Bind, logger *device.Logger, sockPath string) (*wggo, error) {
	d := &wggo{dev: device.NewDevice(t, b, logger), sockPath: sockPath}
	if sockPath == "" {
		return d, nil
	}
	l, err := listenUAPI(sockPath)
	if err != nil {
		d.dev.Close()
		return nil, err
	}
	d.uapi = l
	d.done.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go d.dev.IpcHandle(c)
		}
	})
	return d, nil
}

// listenUAPI listens on path (mode 0600 in a 0700 directory), replacing a
// stale socket a crashed run left but never a live one.
func listenUAPI(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("wg: uapi socket dir: %w", err)
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, fmt.Errorf("wg: uapi socket %s is in use by another process", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("wg: stale uapi socket: %w", err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("wg: uapi socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("wg: uapi socket: %w", err)
	}
	return l, nil
}

func (d *wggo) apply(dl *delta) error {
	if err := d.dev.IpcSet(dl.uapi()); err != nil {
		return fmt.Errorf("wg: uapi set: %w", err)
	}
	return nil
}

func (d *wggo) up() error { return d.dev.Up() }

func (d *wggo) observe() (map[[32]byte]peerObs, error) {
	s, err := d.dev.IpcGet()
	if err != nil {
		return nil, err
	}
	return parseUAPIGet(s), nil
}

func (d *wggo) close() error {
	if d.uapi != nil {
		d.uapi.Close()
		d.done.Wait()
		os.Remove(d.sockPath)
	}
	d.dev.Close()
	return nil
}

// parseUAPIGet reads the peers of a UAPI get answer; device-level keys
// (among them private_key) are skipped.
func parseUAPIGet(s string) map[[32]byte]peerObs {
	out := map[[32]byte]peerObs{}
	var cur *peerObs
	var pub [32]byte
	var sec, nsec int64
	flush := func() {
		if cur != nil {
			if sec != 0 || nsec != 0 {
				cur.handshake = time.Unix(sec, nsec)
			}
			out[pub] = *cur
		}
	}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		if k == "public_key" {
			flush()
			cur, sec, nsec = &peerObs{}, 0, 0
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != 32 {
				cur = nil
				continue
			}
			copy(pub[:], b)
			continue
		}
		if cur == nil {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "endpoint":
			cur.endpoint = v
		case "last_handshake_time_sec":
			sec = n
		case "last_handshake_time_nsec":
			nsec = n
		case "rx_bytes":
			cur.rx = n
		case "tx_bytes":
			cur.tx = n
		}
	}
	flush()
	return out
}
