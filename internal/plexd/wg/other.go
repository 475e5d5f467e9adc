//go:build !linux

package wg

import (
	"errors"

	"github.com/plexsphere/plexsphere/internal/plexd/mesh"
)

// ErrKernelUnavailable is returned when the kernel has no WireGuard.
var ErrKernelUnavailable = errors.New("wg: kernel WireGuard is supported on Linux only")

var errLinuxOnly = errors.New("wg: this backend is supported on Linux only; use netstack")

func kernelAvailable() bool { return false }
func tunAvailable() bool    { return false }

func (e *Engine) startKernel(mesh.Config) error    { return ErrKernelUnavailable }
func (e *Engine) startUserspace(mesh.Config) error { return errLinuxOnly }
func deleteLink(string) error                      { return nil }
