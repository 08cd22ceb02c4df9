package e2e

import (
	"bytes"
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
)

// TestGatewayRestart: a gateway restarted while an ssh session runs through
// it keeps its identity and its clients' addresses (its state file), and the
// kernel keeps the flow's NAT state: the session goes on after a pause, with
// every line, and new connections work again.
func TestGatewayRestart(t *testing.T) {
	needProgram(t, "curl", "ssh")
	t.Parallel()
	g := newGatewayWorld(t)
	office := newIntranet(t, g.lab, "gwoffice", "office", "corp.example", false)
	gw := g.addGateway(office, office.gw.Host, office.gw.LAN().Gateway4(), "", nil)
	g.laptop.bookAdd("office-gw", gw.key)
	g.startLaptop(g.laptop, laptopRules)
	s := startSSHD(t, office.server)

	// 60 lines, one every 0.2 s: a session of about 12 s.
	const lines = 60
	session, err := g.laptop.Start("ssh", s.args("ssh.corp.example", "for i in $(seq 1 "+strconv.Itoa(lines)+"); do echo line $i; sleep 0.2; done")...)
	if err != nil {
		t.Fatal(err)
	}
	waitOutput(t, session, "line 5\n")
	old := gw.proxy
	if err := old.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := old.Wait(); err != nil {
		t.Fatalf("the gateway exited with %v after SIGTERM:\n%s", err, tail(old.Output(), 2048))
	}
	g.forget(old)
	restarted := time.Now()
	p, err := gw.Start(i3netBin, "gateway", "--state-dir", gw.dir, "--config", filepath.Join(gw.dir, "gateway.toml"))
	if err != nil {
		t.Fatal(err)
	}
	gw.proxy = p
	g.daemons = append(g.daemons, p)
	gw.waitProxy(t)
	t.Logf("gateway restarted in %v", time.Since(restarted).Round(time.Millisecond))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	select {
	case <-session.Done():
	case <-ctx.Done():
		t.Fatalf("the ssh session did not end within a minute:\n%s", session.Output())
	}
	out := session.Output()
	if err := session.Wait(); err != nil || !bytes.HasSuffix(out, []byte("line "+strconv.Itoa(lines)+"\n")) {
		t.Fatalf("the ssh session across the gateway's restart: %v, output %q", err, tail(out, 512))
	}
	for i := 1; i <= lines; i++ {
		if !bytes.Contains(out, []byte("line "+strconv.Itoa(i)+"\n")) {
			t.Fatalf("line %d of the session is missing: %q", i, out)
		}
	}
	if got, err := curlGet(t, ctx, g.laptop.Host, "http://wiki.corp.example/"); err != nil || !bytes.Equal(got, office.content) {
		t.Fatalf("a new curl after the restart: %q, %v", got, err)
	}
}

// waitOutput waits, bounded, until p has printed want.
func waitOutput(t *testing.T, p *netlab.Proc, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	err := netlab.Poll(ctx, 20*time.Millisecond, func() error {
		if strings.Contains(string(p.Output()), want) {
			return nil
		}
		select {
		case <-p.Done():
			return nil // reported below
		default:
		}
		return context.DeadlineExceeded
	})
	if err != nil || !strings.Contains(string(p.Output()), want) {
		t.Fatalf("%s did not print %q: %v\n%s", p, want, err, p.Report(2048))
	}
}
