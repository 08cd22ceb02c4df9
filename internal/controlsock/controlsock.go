// Package controlsock is the local control socket of an i3net daemon (proxy,
// gateway, middlebox): a unix socket in its state directory, mode 0600 (the
// status shows keys and addresses), on which "i3net status" reads GET
// /status as JSON. One daemon per state directory: InUse says whether another
// answers there.
package controlsock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"time"
)

// InUse reports whether a process answers on the socket at path (a stale
// socket of a run that ended does not count: Listen replaces it).
func InUse(path string) bool {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Server serves a daemon's status on its control socket.
type Server struct {
	path string
	ln   net.Listener
	srv  *http.Server
}

// Listen opens the socket at path (its directory made 0700, a stale socket
// replaced, the socket made 0600) to answer GET /status with status() as
// JSON, and the profiles under /debug/pprof/ (go tool pprof of
// http://x/debug/pprof/profile: the socket is its owner's alone). Serve
// answers; Close stops.
func Listen(path string, status func() any) (*Server, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	os.Remove(path) // a stale socket of a previous run
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	os.Chmod(path, 0o600)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(status())
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	return &Server{path: path, ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}, nil
}

// Serve answers until Close; it returns nil once closed.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close stops serving (waiting up to a second for requests under way) and
// removes the socket.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s.srv.Shutdown(ctx)
	s.ln.Close()
	os.Remove(s.path)
}
