package middlebox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/middlebox/pass"
)

// alertLine is a Suricata alert record for a flow from src to dst.
func alertLine(src, dst, sig string) string {
	return fmt.Sprintf(`{"timestamp":"2026-12-02T02:00:00.000000+0000","flow_id":1234,"in_iface":"i3ids0",`+
		`"event_type":"alert","src_ip":%q,"src_port":40000,"dest_ip":%q,"dest_port":21,"proto":"TCP",`+
		`"alert":{"action":"allowed","gid":1,"signature_id":9000001,"rev":1,"signature":%q,"category":"","severity":3}}`,
		src, dst, sig)
}

// The alert of a flow the middlebox carried for host a reaches a's public
// id as an alert frame a opens with its pass key, within a few polls; an
// alert of an unknown flow is counted; truncation and rotation of eve.json
// are followed.
func TestAlerts(t *testing.T) {
	eve := filepath.Join(t.TempDir(), "eve.json") // Suricata has not written it yet
	w := newWorld(t, func(c *Config) { c.EveJSON, c.EvePoll = eve, 20*time.Millisecond })
	w.a.listen(t, w.a.ident.Public().ID())
	frame, _ := plaintextFrame(t, addrA, addrB, 1)
	if err := w.a.c.Send([]id.ID{w.hostTrigger(9), w.bID}, frame); err != nil {
		t.Fatal(err)
	}
	w.b.next(t, 0)
	tagger := w.tagger(t, w.a.ident)
	expect := func(n int, line string) {
		t.Helper()
		d := w.a.next(t, n)
		got, err := tagger.OpenAlert(d.Payload)
		if err != nil || string(got) != line {
			t.Fatalf("alert %d: %q (%v), want %q", n, got, err, line)
		}
	}
	appendFile(t, eve, `{"event_type":"flow","src_ip":"100.64.0.1","dest_ip":"100.64.0.2"}`+"\n")
	l1 := alertLine(addrB.String(), addrA.String(), "ET FTP eggdrop upload")
	appendFile(t, eve, "not json\n"+alertLine("10.9.9.9", "10.8.8.8", "elsewhere")+"\n"+l1+"\n")
	expect(0, l1)
	testwait.For(t, "the counters", func() bool {
		c := w.mb.Status().Counters
		return c["alerts_sent"] == 1 && c["alerts_unmatched"] == 1 && c["eve_bad_lines"] == 1 && c["eve_lines"] == 4
	})

	if err := os.Truncate(eve, 0); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "the truncation seen", func() bool { return counter(w.mb, "eve_reopened") == 1 })
	l2 := alertLine(addrA.String(), addrB.String(), "after truncation")
	appendFile(t, eve, l2+"\n")
	expect(1, l2)

	if err := os.Rename(eve, eve+".1"); err != nil {
		t.Fatal(err)
	}
	l3 := alertLine(addrA.String(), addrB.String(), "after rotation")
	appendFile(t, eve, l3+"\n")
	expect(2, l3)
	// An alert is counted once its send returned, which can be after it
	// arrived.
	testwait.For(t, "3 alerts sent in the host's status", func() bool {
		return w.mb.Status().Middlebox.Hosts[0].Counters["alerts_sent"] == 3
	})
}

// An alert record too long for an alert frame is sent as its main fields.
func TestAlertTooLong(t *testing.T) {
	line := alertLine("100.64.0.1", "100.64.0.2", strings.Repeat("é<&", 1000))
	line = strings.TrimSuffix(line, "}") + `,"payload":"` + strings.Repeat("A", 8000) + `"}`
	ev, ok := parseEve([]byte(line))
	if !ok || ev.Alert == nil {
		t.Fatalf("%q did not parse", line[:100])
	}
	b := ev.compact()
	back, ok := parseEve(b)
	if len(b) > pass.MaxAlert || !ok || back.src != ev.src || back.dst != ev.dst || back.Alert == nil ||
		back.Alert.SignatureID != 9000001 || !strings.HasPrefix(ev.Alert.Signature, back.Alert.Signature) {
		t.Fatalf("compact form %d bytes %q", len(b), b)
	}
}

// FuzzParseEve: any line parses or is refused without panic; a parsed
// record's compact form fits an alert frame and parses back to the same
// event type and addresses.
func FuzzParseEve(f *testing.F) {
	f.Add([]byte(alertLine("100.64.0.1", "100.64.0.2", "sig")))
	f.Add([]byte(alertLine("fd7a:115c:a1e0:0000:0000:0000:0000:0001", "::ffff:1.2.3.4", "v6")))
	f.Add([]byte(`{"event_type":"http","src_ip":"1.2.3.4","dest_ip":"5.6.7.8","http":{"url":"/"}}`))
	f.Add([]byte(`{"event_type":"alert","alert":null}`))
	f.Add([]byte(`{"event_type":5}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, line []byte) {
		ev, ok := parseEve(line)
		if !ok {
			return
		}
		if ev.EventType == "" || !json.Valid(line) {
			t.Fatalf("accepted %q", line)
		}
		b := ev.compact()
		back, ok := parseEve(b)
		if len(b) > pass.MaxAlert || !json.Valid(b) {
			t.Fatalf("compact form of %q: %q", line, b)
		}
		if ok && (back.src != ev.src || back.dst != ev.dst) || bytes.Contains(b, []byte("\n")) {
			t.Fatalf("compact form of %q: %q parses to %v %v, want %v %v", line, b, back.src, back.dst, ev.src, ev.dst)
		}
	})
}

// FuzzAddrPair: any bytes give two addresses of the packet's version, or
// none, without reading past the end.
func FuzzAddrPair(f *testing.F) {
	frame, pkt := plaintextFrame(f, addrA, addrB, 1)
	f.Add(pkt)
	f.Add(frame)
	f.Add([]byte{0x60})
	f.Fuzz(func(t *testing.T, b []byte) {
		src, dst, ok := addrPair(b)
		if !ok {
			return
		}
		if v := b[0] >> 4; src.Is4() != (v == 4) || dst.Is4() != (v == 4) || !src.IsValid() || !dst.IsValid() {
			t.Fatalf("%x: %v %v", b, src, dst)
		}
	})
}
