package proxytest

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/i3net/i3net/server"
)

// StartServer runs an in-process overlay server on loopback (the server's
// test configuration, changed by edit if not nil) until stop or the test's
// end; stop may be called more than once.
func StartServer(t testing.TB, edit func(*server.Config)) (srv *server.Server, stop func()) {
	cfg := server.TestConfig()
	if edit != nil {
		edit(&cfg)
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); srv.Close(); <-done }) }
	t.Cleanup(stop)
	return srv, stop
}
