package actions

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Errors of the host built-ins (result status "error").
var (
	ErrServiceNotAllowed = errors.New("unit is not in the service allow-list (--actions-service-allow)")
	ErrFileNotAllowed    = errors.New("path is outside the file allow-list (--actions-file-allow)")
)

// serviceRestart runs `systemctl restart -- <unit>` for an allow-listed
// unit.
func (e *Executor) serviceRestart(ctx context.Context, x *execution, stdout, stderr io.Writer) (int, error) {
	unit := x.req.Parameters["unit"]
	if !validUnit(unit) {
		return -1, fmt.Errorf("unit %q is not a systemd unit name", unit)
	}
	if !slices.ContainsFunc(e.opts.ServiceAllow, func(a string) bool { return unitName(a) == unitName(unit) }) {
		return -1, fmt.Errorf("%w: %s", ErrServiceNotAllowed, unit)
	}
	return e.opts.Exec(ctx, "systemctl", []string{"restart", "--", unitName(unit)}, stdout, stderr)
}

// unitName adds ".service" to a unit given without a type suffix.
func unitName(s string) string {
	if i := strings.LastIndexByte(s, '.'); i > 0 && !strings.ContainsAny(s[i:], "@") {
		switch s[i+1:] {
		case "service", "socket", "target", "timer", "mount", "path", "slice", "scope", "swap", "device", "automount":
			return s
		}
	}
	return s + ".service"
}

// validUnit: systemd's unit name characters, not an option.
func validUnit(s string) bool {
	if s == "" || len(s) > 255 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(lowerAlnum(c) || c >= 'A' && c <= 'Z' || strings.IndexByte(":-_.@\\", c) >= 0) {
			return false
		}
	}
	return true
}

// fileRead prints a file whose real path (symlinks resolved) lies under
// an allow-listed prefix, at most MaxOutput bytes (base64: what fits).
func (e *Executor) fileRead(_ context.Context, x *execution, stdout, stderr io.Writer) (int, error) {
	enc := x.req.Parameters["encoding"]
	if enc != "" && enc != "text" && enc != "base64" {
		return -1, fmt.Errorf("%w: encoding %q is not text or base64", ErrParameters, enc)
	}
	resolved, err := e.allowedFile(x.req.Parameters["path"])
	if err != nil {
		return -1, err
	}
	f, err := openNoFollow(resolved)
	if err != nil {
		return -1, fmt.Errorf("file.read: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return -1, fmt.Errorf("file.read: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return -1, fmt.Errorf("file.read: %s is not a regular file", resolved)
	}
	limit := int64(MaxOutput)
	if enc == "base64" {
		limit = MaxOutput / 4 * 3
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return -1, fmt.Errorf("file.read: %w", err)
	}
	if enc != "base64" {
		stdout.Write(data) // more than MaxOutput is truncated by the buffer
		return 0, nil
	}
	if int64(len(data)) > limit {
		data = data[:limit]
		fmt.Fprintf(stderr, "file larger than %d bytes: only the first %d are encoded\n", limit, limit)
	}
	stdout.Write([]byte(base64.StdEncoding.EncodeToString(data)))
	return 0, nil
}

// allowedFile resolves path and checks it against the allow-list, whose
// prefixes are resolved too.
func (e *Executor) allowedFile(path string) (string, error) {
	if !filepath.IsAbs(path) {
		return "", fmt.Errorf("%w: path %q is not absolute", ErrParameters, path)
	}
	resolved, err := filepath.EvalSymlinks(filepath.Clean(path))
	if err != nil {
		return "", fmt.Errorf("file.read: %w", err)
	}
	for _, prefix := range e.opts.FileAllow {
		rp, err := filepath.EvalSymlinks(filepath.Clean(prefix))
		if err != nil {
			continue
		}
		if rp == "/" || resolved == rp || strings.HasPrefix(resolved, rp+string(filepath.Separator)) {
			return resolved, nil
		}
	}
	return "", fmt.Errorf("%w: %s", ErrFileNotAllowed, path)
}

// Bounds of a diagnostics bundle.
const (
	defaultBundleLines = 1000
	maxBundleGzip      = MaxOutput / 4 * 3 // its base64 fits MaxOutput
)

// diagnosticsBundle writes a base64 tar.gz of status.json, info.json,
// capabilities.json and plexd.log, dropping older log lines until it fits.
func (e *Executor) diagnosticsBundle(_ context.Context, x *execution, stdout, _ io.Writer) (int, error) {
	n := defaultBundleLines
	if s := x.req.Parameters["lines"]; s != "" {
		v, _ := strconv.Atoi(s) // typed by checkParams
		n = min(max(v, 0), defaultBundleLines)
	}
	var lines []string
	if e.opts.Logs != nil {
		lines = e.opts.Logs.Lines(n)
	}
	files := map[string]any{"info.json": e.info(), "capabilities.json": e.Capabilities()}
	if d := e.opts.Status().Detail; d != nil {
		files["status.json"] = d
	}
	for {
		raw, err := bundle(files, lines)
		if err != nil {
			return -1, err
		}
		if len(raw) <= maxBundleGzip {
			stdout.Write([]byte(base64.StdEncoding.EncodeToString(raw)))
			return 0, nil
		}
		if len(lines) == 0 {
			return -1, errors.New("diagnostics bundle larger than 1 MiB without log lines")
		}
		lines = lines[len(lines)/2:]
	}
}

// bundle renders the JSON files and the log lines as a tar.gz.
func bundle(files map[string]any, lines []string) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	add := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		raw, err := json.MarshalIndent(files[name], "", "  ")
		if err != nil {
			return nil, fmt.Errorf("diagnostics bundle: %s: %w", name, err)
		}
		if err := add(name, append(raw, '\n')); err != nil {
			return nil, err
		}
	}
	var log bytes.Buffer
	for _, l := range lines {
		log.WriteString(l)
		if !strings.HasSuffix(l, "\n") {
			log.WriteByte('\n')
		}
	}
	if err := add("plexd.log", log.Bytes()); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
