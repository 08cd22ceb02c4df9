package server

import (
	"bytes"
	"encoding/base64"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/clock"
	"github.com/i3net/i3net/wire"
)

var (
	testRingKey  = bytes.Repeat([]byte{0x5a}, ringKeyLen)
	otherRingKey = bytes.Repeat([]byte{0xa5}, ringKeyLen)
)

func withRingKey(k []byte) func(*Config) {
	return func(c *Config) { c.RingKey = base64.StdEncoding.EncodeToString(k) }
}

// TestRingAuthReplicas: with a ring key, a member's EXT_REPLICATE is taken
// only with a valid, fresh EXT_RING_AUTH under that key.
func TestRingAuthReplicas(t *testing.T) {
	fc := clock.NewFake()
	s, _ := newRingInProcess(t, func(c *Config) { withRingKey(testRingKey)(c); c.Clock = fc })
	r := netip.MustParseAddrPort("192.0.2.2:5000")
	rep := wire.Replica{Op: wire.ReplicateInstall, Lifetime: 5000, Inserter: r, Trigger: ipTrigger(idAt(0x30), r)}
	pkt := &wire.Packet{Flags: wire.FlagOptions}
	pkt.AddOption(wire.ReplicateOption(&rep))
	plain := pkt.AppendTo(nil)
	sealed := func(key []byte, at time.Time) []byte {
		return newRingAuth(key).seal(bytes.Clone(plain), at)
	}
	altered := sealed(testRingKey, fc.Now())
	altered[len(plain)-1] ^= 1 // the replica's last byte
	for i, bad := range [][]byte{
		plain,                          // no EXT_RING_AUTH
		sealed(otherRingKey, fc.Now()), // another ring's key
		sealed(testRingKey, fc.Now().Add(-time.Hour)), // stale: a replay
		sealed(testRingKey, fc.Now().Add(time.Hour)),  // from the future
		altered,
	} {
		s.feed(peerA, bad)
		if st := s.Stats(); st.Triggers != 0 || st.Drops[DropRingAuth] != uint64(i+1) {
			t.Fatalf("bad datagram %d: triggers %d, ring_auth drops %d", i, st.Triggers, st.Drops[DropRingAuth])
		}
	}
	good := sealed(testRingKey, fc.Now().Add(-20*time.Second)) // within ringAuthSkew
	s.replicaFromStrangerThenMember(t, good, "sealed, ")
}

// TestRingAuthSealsReplication: what a server with a ring key replicates
// ends with an EXT_RING_AUTH that its peers accept, and still fits the MTU.
func TestRingAuthSealsReplication(t *testing.T) {
	fc := clock.NewFake()
	s, conn := newRingInProcess(t, func(c *Config) { withRingKey(testRingKey)(c); c.Clock = fc })
	w := s.worker
	w.now = fc.Now().UnixNano()
	host := netip.MustParseAddrPort("192.0.2.1:4000")
	var batch [][]byte
	for i := range 40 { // more than one datagram's worth
		tr := ipTrigger(idAt(0x60), netip.AddrPortFrom(host.Addr(), uint16(4000+i)))
		tr.Nonce = w.ch.nonce(&tr, host, w.now)
		batch = append(batch, insertPacket(wire.OptTriggerInsert, tr, host).AppendTo(nil))
	}
	s.feed(host, batch[:16]...)
	s.feed(host, batch[16:32]...)
	s.feed(host, batch[32:]...)
	got, raw := conn.take(peerC)
	if len(got) == 0 {
		t.Fatal("nothing replicated")
	}
	check := newRingAuth(testRingKey)
	replicas := 0
	for i, p := range got {
		if !check.check(p, raw[i], fc.Now()) {
			t.Errorf("datagram %d to the successor: no valid EXT_RING_AUTH", i)
		}
		if len(raw[i]) > replicaMTU {
			t.Errorf("datagram %d: %d bytes, over replicaMTU", i, len(raw[i]))
		}
		replicas += len(p.Options) - 1
	}
	if replicas != 40 {
		t.Errorf("%d replicas in %d datagrams, want 40", replicas, len(got))
	}
	if newRingAuth(otherRingKey).check(got[0], raw[0], fc.Now()) {
		t.Error("another key accepted the datagram")
	}
}

func TestRingKeyConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "ring.key")
	os.WriteFile(good, []byte(base64.StdEncoding.EncodeToString(testRingKey)+"\n"), 0o600)
	short := filepath.Join(dir, "short.key")
	os.WriteFile(short, []byte("c2hvcnQ=\n"), 0o600)
	for _, tt := range []struct {
		name     string
		key      string
		file     string
		wantErr  string
		wantNone bool
	}{
		{name: "none", wantNone: true},
		{name: "inline", key: base64.RawURLEncoding.EncodeToString(testRingKey)},
		{name: "file", file: good},
		{name: "short", key: "c2hvcnQ=", wantErr: "ring_key"},
		{name: "not base64", key: "!!", wantErr: "ring_key"},
		{name: "short file", file: short, wantErr: "ring_key_file"},
		{name: "missing file", file: filepath.Join(dir, "nope"), wantErr: "ring_key_file"},
		{name: "both", key: base64.StdEncoding.EncodeToString(testRingKey), file: good, wantErr: "ring_key_file"},
	} {
		c := TestConfig()
		c.RingKey, c.RingKeyFile = tt.key, tt.file
		err := c.validate()
		k, _ := c.ringKey()
		switch {
		case tt.wantErr != "":
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tt.wantErr)) {
				t.Errorf("%s: error %v, want one naming %s", tt.name, err, tt.wantErr)
			}
			if err != nil && bytes.Contains([]byte(err.Error()), []byte(base64.StdEncoding.EncodeToString(testRingKey))) {
				t.Errorf("%s: the error shows the key: %v", tt.name, err)
			}
		case err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.wantNone != (k == nil) || (k != nil && !bytes.Equal(k, testRingKey)):
			t.Errorf("%s: key %x", tt.name, k)
		}
	}
}
