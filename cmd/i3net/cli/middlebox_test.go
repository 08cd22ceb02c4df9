package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/middlebox"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/server"
)

// The command refuses a missing or bad file with the file, line and key.
func TestMiddleboxConfigErrors(t *testing.T) {
	dir := testState(t)
	if code, _, errOut := runCmd(t, "middlebox"); code != 2 || !strings.Contains(errOut, "give --config FILE") {
		t.Fatalf("no --config: exit %d, %q", code, errOut)
	}
	path := filepath.Join(dir, "middlebox.toml")
	if err := os.WriteFile(path, []byte("servers = [\"127.0.0.1:5610\"]\n[[host]]\nname = \"home\"\nkey = \"i3pk1x\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCmd(t, "middlebox", "--config", path)
	if code != 1 || !strings.Contains(errOut, "i3net middlebox: "+path+":4: host[0].key = \"i3pk1x\"") {
		t.Fatalf("bad key: exit %d, %q", code, errOut)
	}
}

// "i3net status" reads a middlebox's control socket as a proxy's: --json
// has the middlebox section, the human form a line per host.
func TestStatusOfMiddlebox(t *testing.T) {
	dir := testState(t)
	scfg := server.TestConfig()
	scfg.Logger = slog.New(slog.DiscardHandler)
	srv, err := server.New(scfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	defer func() { cancel(); srv.Close(); <-done }()

	ident, home := mustIdent(t), mustIdent(t)
	cfg := middlebox.DefaultConfig()
	cfg.Servers = []netip.AddrPort{srv.Addr()}
	cfg.Anycast = "mb-a"
	cfg.Hosts = []middlebox.HostConfig{{Name: "home", Key: home.Public()}}
	ccfg := client.TestConfig()
	mb, err := middlebox.New(cfg, middlebox.Options{Identity: ident, ControlPath: controlPath(dir),
		Logger: slog.New(slog.DiscardHandler), Client: &ccfg})
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- mb.Run(ctx) }()
	defer func() { mb.Close(); <-ran }()
	testwait.For(t, "the middlebox's trigger", func() bool {
		st := mb.Status()
		return st.Middlebox.Hosts[0].State == "active"
	})

	code, out, errOut := runCmd(t, "status", "--json")
	var st proxy.Status
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Middlebox == nil || len(st.Middlebox.Hosts) != 1 ||
		st.Middlebox.Hosts[0].Name != "home" || st.Middlebox.Anycast != "mb-a" || st.Self.ID != ident.ID().String() {
		t.Fatalf("status --json: exit %d, %s %s", code, out, errOut)
	}
	if _, ok := st.Counters["forwarded"]; !ok {
		t.Fatalf("no forwarded counter: %v", st.Counters)
	}
	code, out, _ = runCmd(t, "status")
	for _, want := range []string{
		fmt.Sprintf("# this middlebox: id %s…", ident.ID().String()[:8]),
		"# IDS device none, alerts from none, 0 address pairs known; anycast member \"mb-a\"",
		"HOST  ID", "home  " + home.Public().ID().String()[:8] + "…", "active  0 pkts 0 B",
		"# forwarded 0, to_ids 0, alerts_sent 0, alerts_unmatched 0, drop_unknown_host 0, drop_malformed 0",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}

func mustIdent(t *testing.T) *identity.Identity {
	t.Helper()
	x, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return x
}
