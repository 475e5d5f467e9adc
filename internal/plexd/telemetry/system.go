package telemetry

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MetricCollector produces metric points at each metrics tick.
type MetricCollector interface {
	// Name names the collector in logs.
	Name() string
	// Collect returns the points of this tick, stamped now.
	Collect(ctx context.Context, now time.Time) ([]MetricPoint, error)
}

// DiskUsage reports a file system's total and used bytes.
type DiskUsage func(path string) (total, used uint64, err error)

// SystemOptions configures the system collector.
type SystemOptions struct {
	// ProcRoot is where proc(5) is mounted ("/proc" when "").
	ProcRoot string
	// DiskPath is the file system disk_* fields describe ("/" when "").
	DiskPath string
	// Disk reads a file system's usage (statfs(2) when nil).
	Disk DiskUsage
}

// System collects the "system" group from /proc: cpu_usage_percent (busy
// share of all CPUs since the previous tick, since boot on the first),
// memory_total_bytes, memory_used_bytes (total − available),
// memory_available_bytes, load1, load5, load15, disk_total_bytes,
// disk_used_bytes, network_rx_bytes and network_tx_bytes (all interfaces
// but lo). A field whose source is unreadable is left out.
type System struct {
	opts SystemOptions

	// mu guards prev.
	mu   sync.Mutex
	prev cpuTimes
}

// NewSystem builds the system collector.
func NewSystem(opts SystemOptions) *System {
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	if opts.DiskPath == "" {
		opts.DiskPath = "/"
	}
	if opts.Disk == nil {
		opts.Disk = statfsUsage
	}
	return &System{opts: opts}
}

// Name implements MetricCollector.
func (s *System) Name() string { return GroupSystem }

// Collect implements MetricCollector.
func (s *System) Collect(_ context.Context, now time.Time) ([]MetricPoint, error) {
	data := map[string]any{}
	var errs []error
	if cpu, err := s.cpu(); err == nil {
		data["cpu_usage_percent"] = cpu
	} else {
		errs = append(errs, err)
	}
	if err := s.memory(data); err != nil {
		errs = append(errs, err)
	}
	if err := s.load(data); err != nil {
		errs = append(errs, err)
	}
	if total, used, err := s.opts.Disk(s.opts.DiskPath); err == nil {
		data["disk_total_bytes"], data["disk_used_bytes"] = total, used
	} else {
		errs = append(errs, fmt.Errorf("disk %s: %w", s.opts.DiskPath, err))
	}
	if err := s.network(data); err != nil {
		errs = append(errs, err)
	}
	if len(data) == 0 {
		return nil, errors.Join(errs...)
	}
	return []MetricPoint{{Timestamp: now.UTC(), Group: GroupSystem, Data: data}}, errors.Join(errs...)
}

// cpuTimes are the aggregate jiffies of /proc/stat's cpu line.
type cpuTimes struct {
	idle, total uint64
}

// cpu answers the busy percentage since the previous call.
func (s *System) cpu() (float64, error) {
	cur, err := readCPU(filepath.Join(s.opts.ProcRoot, "stat"))
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	prev := s.prev
	s.prev = cur
	s.mu.Unlock()
	if cur.total < prev.total || cur.idle < prev.idle {
		prev = cpuTimes{} // counters reset: since boot
	}
	dt, di := cur.total-prev.total, cur.idle-prev.idle
	if dt == 0 {
		return 0, nil
	}
	return float64(dt-min(di, dt)) * 100 / float64(dt), nil
}

// readCPU parses the first line of /proc/stat.
func readCPU(path string) (cpuTimes, error) {
	raw, err := readSmall(path)
	if err != nil {
		return cpuTimes{}, err
	}
	line, _, _ := bytes.Cut(raw, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return cpuTimes{}, fmt.Errorf("%s: no cpu line", path)
	}
	var t cpuTimes
	// user nice system idle iowait irq softirq steal (guest is in user)
	for i, v := range f[1:min(len(f), 9)] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return cpuTimes{}, fmt.Errorf("%s: %w", path, err)
		}
		t.total += n
		if i == 3 || i == 4 { // idle, iowait
			t.idle += n
		}
	}
	return t, nil
}

// memory reads MemTotal and MemAvailable (kB) from /proc/meminfo.
func (s *System) memory(data map[string]any) error {
	path := filepath.Join(s.opts.ProcRoot, "meminfo")
	raw, err := readSmall(path)
	if err != nil {
		return err
	}
	var total, avail uint64
	var haveTotal, haveAvail bool
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		n, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "MemTotal:":
			total, haveTotal = n*1024, true
		case "MemAvailable:":
			avail, haveAvail = n*1024, true
		}
	}
	if !haveTotal || !haveAvail {
		return fmt.Errorf("%s: no MemTotal or MemAvailable", path)
	}
	data["memory_total_bytes"], data["memory_available_bytes"] = total, avail
	data["memory_used_bytes"] = total - min(avail, total)
	return nil
}

// load reads /proc/loadavg.
func (s *System) load(data map[string]any) error {
	path := filepath.Join(s.opts.ProcRoot, "loadavg")
	raw, err := readSmall(path)
	if err != nil {
		return err
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return fmt.Errorf("%s: too few fields", path)
	}
	for i, k := range []string{"load1", "load5", "load15"} {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		data[k] = v
	}
	return nil
}

// network sums the received and sent bytes of /proc/net/dev over every
// interface but lo.
func (s *System) network(data map[string]any) error {
	path := filepath.Join(s.opts.ProcRoot, "net", "dev")
	raw, err := readSmall(path)
	if err != nil {
		return err
	}
	var rx, tx uint64
	seen := false
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		name = strings.TrimSpace(name)
		if !ok || name == "lo" || strings.Contains(name, "|") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			continue
		}
		r, err1 := strconv.ParseUint(f[0], 10, 64)
		t, err2 := strconv.ParseUint(f[8], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		rx, tx, seen = rx+r, tx+t, true
	}
	if !seen {
		return fmt.Errorf("%s: no interface", path)
	}
	data["network_rx_bytes"], data["network_tx_bytes"] = rx, tx
	return nil
}

// readSmall reads a proc file of at most 1 MiB.
func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxProcFile+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxProcFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxProcFile)
	}
	return raw, nil
}

// maxProcFile bounds a proc file read.
const maxProcFile = 1 << 20
