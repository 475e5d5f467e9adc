// Command plexd is the plexsphere node agent. It is a thin composition
// root: everything lives in internal/plexd.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/plexsphere/plexsphere/internal/plexd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := plexd.Run(ctx, os.Args[1:], plexd.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}
