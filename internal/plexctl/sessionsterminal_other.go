//go:build !unix

package plexctl

import "context"

// notifyResize delivers nothing: there is no SIGWINCH here.
func notifyResize(context.Context) <-chan struct{} { return nil }
