package actions

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/plexd/logkey"
)

// binaryState is the running binary's checksum and what was reported.
type binaryState struct {
	checksum string // at start; "" while unknown
	reported string // the changed checksum last reported as a violation
}

// Capabilities is the manifest PUT to the control plane: the binary, the
// built-ins with their schemas and the loaded hooks, sorted by name. The
// binary is also given in the contract's members (binary_version and a
// base64 binary_checksum), as the control plane accepts both forms.
func (e *Executor) Capabilities() nodeproto.Capabilities {
	e.mu.Lock()
	hooks := make([]*action, 0, len(e.hooks))
	for _, a := range e.hooks {
		hooks = append(hooks, a)
	}
	sum := e.binary.checksum
	e.mu.Unlock()
	c := nodeproto.Capabilities{BuiltinActions: []nodeproto.BuiltinAction{}, Hooks: []nodeproto.Hook{}}
	for _, a := range e.builtins {
		c.BuiltinActions = append(c.BuiltinActions, nodeproto.BuiltinAction{Name: a.name, Description: a.description, Parameters: a.params})
	}
	slices.SortFunc(c.BuiltinActions, func(a, b nodeproto.BuiltinAction) int { return strings.Compare(a.Name, b.Name) })
	sandbox := e.hookSandbox()
	for _, a := range hooks {
		h := a.hook
		timeout := ""
		if h.Timeout > 0 {
			timeout = h.Timeout.String()
		}
		c.Hooks = append(c.Hooks, nodeproto.Hook{Name: h.Name, Description: h.Description, Source: h.Command,
			Checksum: h.Checksum, Parameters: h.Params, Timeout: timeout, Sandbox: sandbox})
	}
	slices.SortFunc(c.Hooks, func(a, b nodeproto.Hook) int { return strings.Compare(a.Name, b.Name) })
	if sum != "" {
		c.Binary = &nodeproto.BinaryInfo{Version: e.opts.Version, Checksum: sum}
		if raw, err := hex.DecodeString(sum); err == nil {
			c.BinaryVersion, c.BinaryChecksum = e.opts.Version, base64.StdEncoding.EncodeToString(raw)
		}
	}
	return c
}

// initBinary records the running binary's checksum.
func (e *Executor) initBinary(ctx context.Context) {
	sum, err := e.opts.StartChecksum()
	if err != nil {
		e.log.LogAttrs(ctx, slog.LevelWarn, "binary checksum unavailable", slog.String(logkey.Error, err.Error()))
		return
	}
	e.mu.Lock()
	e.binary.checksum = sum
	e.mu.Unlock()
}

// capabilitiesLoop puts the manifest at start and whenever it changes
// (the hooks directory is re-read every HooksPoll); a failed put is
// retried at the next poll.
func (e *Executor) capabilitiesLoop(ctx context.Context) {
	var last []byte
	for {
		e.reloadHooks(ctx)
		caps := e.Capabilities()
		raw, _ := json.Marshal(caps)
		if !bytes.Equal(raw, last) {
			if err := e.opts.ControlPlane.PutCapabilities(ctx, e.opts.NodeID, caps); err != nil {
				if ctx.Err() != nil {
					return
				}
				e.log.LogAttrs(ctx, slog.LevelWarn, "capabilities not sent", slog.String(logkey.Error, err.Error()))
			} else {
				last = raw
				e.log.LogAttrs(ctx, slog.LevelInfo, "capabilities sent", slog.Int(keyHooks, len(caps.Hooks)))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-e.clk.After(e.opts.HooksPoll):
		}
	}
}

// integrityLoop re-hashes the binary every IntegrityInterval.
func (e *Executor) integrityLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.clk.After(e.opts.IntegrityInterval):
		}
		e.CheckBinary(ctx)
	}
}

// CheckBinary re-hashes the binary and reports a change since start as an
// integrity violation of type "binary", once per changed checksum.
func (e *Executor) CheckBinary(ctx context.Context) {
	sum, err := e.opts.BinaryChecksum()
	if err != nil {
		e.log.LogAttrs(ctx, slog.LevelWarn, "binary checksum unavailable", slog.String(logkey.Error, err.Error()))
		return
	}
	e.mu.Lock()
	base := e.binary.checksum
	switch {
	case base == "":
		e.binary.checksum = sum
		e.mu.Unlock()
		return
	case sum == base:
		e.binary.reported = ""
		e.mu.Unlock()
		return
	case sum == e.binary.reported:
		e.mu.Unlock()
		return
	}
	e.binary.reported = sum
	e.mu.Unlock()
	e.violation(ctx, nodeproto.IntegrityViolation{Type: nodeproto.IntegrityBinary, Path: e.opts.BinaryPath,
		ExpectedChecksum: base, ActualChecksum: sum, Detail: "the plexd binary changed on disk since plexd started"})
}
