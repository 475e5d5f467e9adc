// Command plexctl is the plexsphere command-line client. It is a thin
// composition root: everything lives in internal/plexctl.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/plexsphere/plexsphere/internal/plexctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := plexctl.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
