package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
)

// The middlebox's world (issue 11, the paper's §6.4): the default topology
// (topology_test.go: laptop on the internet, home behind a NAT, the overlay
// server srv1) plus hosts on the internet running "i3net middlebox", which
// home imposes on every session ("middlebox = \"ids-mb\"" in its proxy's
// --config, ids-mb in its book), each with Suricata reading its IDS tun:
//
//	laptop ──┐                     ┌── nat ── home (imposes ids-mb)
//	srv1   ──┤ "internet" bridge   │
//	ids    ──┴─────────────────────┘  (i3net middlebox, Suricata on i3ids0)

// idsTun is the IDS tun device every middlebox of the tests writes into.
const idsTun = "i3ids0"

// mbName is the middlebox's name in home's address book.
const mbName = "ids-mb"

// mbWorld is a world whose home imposes a middlebox.
type mbWorld struct {
	*world
	mbDir string // the middlebox's identity, shared by an anycast group
	mbKey string
	mbs   []*middleboxNode
}

// middleboxNode is a host running "i3net middlebox".
type middleboxNode struct {
	*netlab.Host
	w    *mbWorld
	dir  string // --state-dir
	conf string // middlebox.toml
	proc *netlab.Proc
	ids  *suricata // nil: no IDS
}

// newMiddleboxWorld builds the default topology with home imposing ids-mb
// (whose identity it makes first, so that home's book names it before its
// proxy starts). The middleboxes start with addMiddlebox. It skips t unless
// root and unless the i3net binary has a middlebox command.
func newMiddleboxWorld(t *testing.T) *mbWorld {
	t.Helper()
	mw := &mbWorld{mbDir: filepath.Join(t.TempDir(), "mb-identity")}
	mw.world = newWorld(t, topoOptions{homeProxyArgsFn: func(w *world) []string {
		mw.world = w
		mw.mbKey = mw.makeMiddleboxIdentity()
		w.home.bookAdd(mbName, mw.mbKey)
		conf := filepath.Join(w.home.dir, "proxy.toml")
		writeFile(t, conf, []byte(fmt.Sprintf("# e2e: home imposes the middlebox on every session\nmiddlebox = %q\n", mbName)), 0o600)
		return []string{"--config", conf}
	}})
	return mw
}

// makeMiddleboxIdentity creates the middlebox's identity and returns its key.
func (mw *mbWorld) makeMiddleboxIdentity() string {
	t := mw.t
	t.Helper()
	out, err := mw.i3net(context.Background(), "id", "--state-dir", mw.mbDir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var info struct{ Key string }
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("i3net id --json: %v: %s", err, out)
	}
	return info.Key
}

// addMiddlebox starts "i3net middlebox" in a new host on the internet with
// the world's middlebox identity (copied: every member of an anycast group
// shares it), serving home, with member name anycast ("" for a lone one).
// With withIDS it writes into idsTun and follows Suricata's eve.json, and
// Suricata starts on the tun once the middlebox made it.
func (mw *mbWorld) addMiddlebox(name, anycast string, withIDS bool) *middleboxNode {
	t := mw.t
	t.Helper()
	m := &middleboxNode{Host: mw.lab.Host(name), w: mw, dir: filepath.Join(t.TempDir(), name)}
	pem, err := os.ReadFile(filepath.Join(mw.mbDir, "identity.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(m.dir, "identity.pem"), pem, 0o600)
	conf := fmt.Sprintf("# e2e: the middlebox %s\nservers = [%q]\n", name, mw.srvAddr)
	var ids *suricata
	if withIDS {
		ids = newSuricata(t)
		conf += fmt.Sprintf("ids_tun = %q\neve_json = %q\n", idsTun, ids.eve)
	}
	if anycast != "" {
		conf += fmt.Sprintf("anycast = %q\n", anycast)
	}
	conf += fmt.Sprintf("\n[[host]]\nname = \"home\"\nkey = %q\n", mw.home.key)
	m.conf = filepath.Join(m.dir, "middlebox.toml")
	writeFile(t, m.conf, []byte(conf), 0o600)
	p, err := m.Start(i3netBin, "middlebox", "--state-dir", m.dir, "--config", m.conf)
	if err != nil {
		t.Fatal(err)
	}
	m.proc = p
	mw.daemons = append(mw.daemons, p)
	m.waitUp()
	if withIDS {
		m.waitTun()
		ids.start(t, m.Host, idsTun, idsRules)
		m.ids = ids
	}
	mw.mbs = append(mw.mbs, m)
	return m
}

// waitUp waits, bounded, until the middlebox answers "i3net status".
func (m *middleboxNode) waitUp() {
	m.w.t.Helper()
	waitAnswers(m.w.t, m.Name()+"'s i3net middlebox", m.proc, func(ctx context.Context) error {
		_, err := m.status(ctx)
		return err
	})
}

// waitTun waits, bounded, until the middlebox's IDS tun exists, and brings
// it up (the IDS captures only on an interface that is up).
func (m *middleboxNode) waitTun() {
	t := m.w.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	err := netlab.Poll(ctx, 50*time.Millisecond, func() error {
		_, err := m.Run(ctx, "ip", "link", "show", idsTun)
		return err
	})
	if err != nil {
		t.Fatalf("%s: the middlebox made no %s within %v: %v\n%s", m.Name(), idsTun, startTimeout, err, tail(m.proc.Output(), 2048))
	}
	mustRun(t, ctx, m.Host, "ip", "link", "set", idsTun, "up")
}

// mbStatus is the part of a middlebox's "i3net status --json" the tests read.
type mbStatus struct {
	Counters  map[string]uint64 `json:"counters"`
	Middlebox json.RawMessage   `json:"middlebox"`
}

// status reads "i3net status --json" of the middlebox.
func (m *middleboxNode) status(ctx context.Context) (mbStatus, error) {
	return readStatus[mbStatus](ctx, m.w.world, m.dir)
}

// counter returns one of the middlebox's counters (0 when it cannot say:
// a killed middlebox).
func (m *middleboxNode) counter(name string) uint64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := m.status(ctx)
	if err != nil {
		return 0
	}
	return st.Counters[name]
}

// kill ends the middlebox with SIGKILL and waits for it to be gone; it is
// then no longer expected to exit 0 at cleanup.
func (m *middleboxNode) kill() {
	t := m.w.t
	t.Helper()
	if err := m.proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.proc.Done():
	case <-time.After(netlab.StopGrace):
		t.Fatalf("%s: i3net middlebox still running %v after SIGKILL", m.Name(), netlab.StopGrace)
	}
	for i, d := range m.w.daemons {
		if d == m.proc {
			m.w.daemons = append(m.w.daemons[:i], m.w.daemons[i+1:]...)
			break
		}
	}
}

// hostStatus is the part of a proxy's "i3net status --json" about
// middleboxes: the alerts they sent back and the counters.
type hostStatus struct {
	Counters map[string]uint64 `json:"counters"`
	Alerts   []struct {
		Time      time.Time `json:"time"`
		Middlebox string    `json:"middlebox"`
		Signature string    `json:"signature"`
		Src       string    `json:"src"`
		Dst       string    `json:"dst"`
		Proto     string    `json:"proto"`
	} `json:"alerts"`
	Peers []struct {
		Name      string `json:"name"`
		Middlebox string `json:"middlebox"`
		State     string `json:"state"`
	} `json:"peers"`
}

// mbStatus reads the node's proxy status as hostStatus.
func (n *node) mbStatus(ctx context.Context) (hostStatus, error) {
	var st hostStatus
	out, err := n.w.i3net(ctx, "status", "--state-dir", n.dir, "--json")
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return st, fmt.Errorf("i3net status --json: %w: %s", err, out)
	}
	return st, nil
}

// mustMBStatus is mbStatus failing t on error.
func (n *node) mustMBStatus(t *testing.T) hostStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	st, err := n.mbStatus(ctx)
	if err != nil {
		t.Fatalf("%s: %v", n.Name(), err)
	}
	return st
}
