package controlsock

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

func TestServeStatus(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "proxy.sock")
	if InUse(path) {
		t.Fatal("in use before anything listens")
	}
	s, err := Listen(path, func() any { return map[string]int{"answer": 42} })
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	if !InUse(path) {
		t.Fatal("not in use while served")
	}
	c := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
	resp, err := c.Get("http://x/status")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]int
	json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if got["answer"] != 42 {
		t.Fatalf("status %v", got)
	}
	s.Close()
	if err := <-done; err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("socket left after Close: %v", err)
	}
}
