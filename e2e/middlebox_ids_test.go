package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
)

// Suricata running live beside a middlebox (issue 11, the paper's §6.4.1,
// where Bro played this part): it reads the IDS tun the middlebox writes
// every plaintext packet into, and writes eve.json with alert, http and ftp
// events, which the middlebox follows to send alerts to the host they
// concern. The test writes its configuration: only the test's rules, one
// packet thread, small memory caps, no checksum checks (the middlebox hands
// over packets whose checksums a tun's offloads may have left unfinished).

// suricataReadyTimeout bounds the wait for Suricata to start capturing.
const suricataReadyTimeout = startTimeout

// idsRules are the rules of the middlebox tests: the paper's eggdrop upload
// (the FTP command that stores a file of that name) and an HTTP request
// path, and nothing else. The FTP rule looks at each packet (no_stream): on
// the reassembled stream Suricata inspects a connection this small only
// when it sees the connection end, which took up to 20 s under load (the
// alert then came from the flow's time-out).
const idsRules = `alert ftp any any -> any any (msg:"i3net e2e: FTP upload of eggdrop"; flow:to_server,established,no_stream; content:"STOR"; nocase; content:"eggdrop"; distance:0; nocase; classtype:trojan-activity; sid:3100001; rev:1;)
alert http any any -> any any (msg:"i3net e2e: HTTP GET of /ids-probe"; flow:to_server,established; http.method; content:"GET"; http.uri; content:"/ids-probe"; sid:3100002; rev:1;)
`

// suricata is one Suricata process reading an interface of a host.
type suricata struct {
	dir  string // its log directory: eve.json, suricata.log
	eve  string // eve.json
	proc *netlab.Proc
}

// eveEvent is the part of an eve.json record the tests look at.
type eveEvent struct {
	Timestamp string `json:"timestamp"`
	EventType string `json:"event_type"`
	SrcIP     string `json:"src_ip"`
	SrcPort   int    `json:"src_port"`
	DestIP    string `json:"dest_ip"`
	DestPort  int    `json:"dest_port"`
	Proto     string `json:"proto"`
	AppProto  string `json:"app_proto"`
	Alert     struct {
		Signature   string `json:"signature"`
		SignatureID int    `json:"signature_id"`
	} `json:"alert"`
	HTTP struct {
		Hostname string `json:"hostname"`
		URL      string `json:"url"`
		Method   string `json:"http_method"`
		Status   int    `json:"status"`
	} `json:"http"`
	FTP struct {
		Command     string `json:"command"`
		CommandData string `json:"command_data"`
	} `json:"ftp"`
}

func (e eveEvent) String() string {
	s := fmt.Sprintf("%s %s %s %s:%d -> %s:%d", e.Timestamp, e.EventType, e.Proto, e.SrcIP, e.SrcPort, e.DestIP, e.DestPort)
	switch e.EventType {
	case "alert":
		s += fmt.Sprintf(" [%d] %q", e.Alert.SignatureID, e.Alert.Signature)
	case "http":
		s += fmt.Sprintf(" %s %s%s %d", e.HTTP.Method, e.HTTP.Hostname, e.HTTP.URL, e.HTTP.Status)
	case "ftp":
		s += fmt.Sprintf(" %s %s", e.FTP.Command, e.FTP.CommandData)
	}
	return s
}

// startSuricata runs Suricata in h, capturing live on iface (af-packet),
// with rules, and returns once it says its engine started and eve.json
// exists. It stops with the test.
func startSuricata(t *testing.T, h *netlab.Host, iface, rules string) *suricata {
	t.Helper()
	s := newSuricata(t)
	s.start(t, h, iface, rules)
	return s
}

// newSuricata makes Suricata's log directory, so that eve.json's path is
// known before it starts (a middlebox's configuration names it).
func newSuricata(t *testing.T) *suricata {
	t.Helper()
	needProgram(t, "suricata")
	s := &suricata{dir: t.TempDir()}
	s.eve = filepath.Join(s.dir, netlab.SuricataEve)
	return s
}

// start runs Suricata in h on iface with rules (Host.StartSuricata) and
// waits, bounded, until it captures; it stops with the test.
func (s *suricata) start(t *testing.T, h *netlab.Host, iface, rules string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), suricataReadyTimeout)
	defer cancel()
	p, err := h.StartSuricata(ctx, s.dir, iface, rules)
	if err != nil {
		t.Fatal(err)
	}
	s.proc = p
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Error(err)
		}
	})
}

// log returns suricata.log so far.
func (s *suricata) log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "suricata.log"))
	return string(b)
}

// events returns every complete record of eve.json so far.
func (s *suricata) events() []eveEvent {
	b, _ := os.ReadFile(s.eve)
	var evs []eveEvent
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e eveEvent
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			evs = append(evs, e)
		}
	}
	return evs
}

// waitEvent waits, bounded by timeout, for an eve.json record that match
// accepts, and returns it; on time-out it fails t, listing what eve.json
// holds.
func (s *suricata) waitEvent(t *testing.T, timeout time.Duration, what string, match func(eveEvent) bool) eveEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var found eveEvent
	err := netlab.Poll(ctx, 50*time.Millisecond, func() error {
		for _, e := range s.events() {
			if match(e) {
				found = e
				return nil
			}
		}
		return fmt.Errorf("no %s in eve.json", what)
	})
	if err != nil {
		t.Fatalf("suricata: no %s within %v; eve.json:\n%s", what, timeout, s.describe())
	}
	return found
}

// describe lists eve.json's records, one a line, for a failure message.
func (s *suricata) describe() string {
	var b strings.Builder
	for _, e := range s.events() {
		b.WriteString(e.String() + "\n")
	}
	if b.Len() == 0 {
		return "(empty)\n" + tail([]byte(s.log()), 1024)
	}
	return b.String()
}
