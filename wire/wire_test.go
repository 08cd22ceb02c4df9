package wire

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
)

func samplePackets() []Packet {
	a, b, c := id.FromName("a"), id.FromName("b"), id.Random()
	trig := Trigger{ID: a, PrefixLen: 128, Target: IPAddr(netip.MustParseAddrPort("[2001:db8::1]:4433")), Key: [16]byte{1, 2}}
	stackTrig := Trigger{Flags: TriggerShortcut, ID: b, PrefixLen: 256, Target: StackAddr(a, c)}
	replicas := sampleReplicas()
	return []Packet{
		{Flags: FlagData, Stack: StackOf(a), Payload: []byte("hello")},
		{Flags: FlagData | FlagShortcut, Stack: StackOf(a, b, c), Payload: []byte{}},
		{Flags: FlagOptions | FlagFirstHop, Stack: StackOf(a), Options: []Option{
			{Type: OptSender, Addr: IPAddr(netip.MustParseAddrPort("10.0.0.1:5000"))},
			{Type: OptTriggerInsert, Trigger: trig},
			HelloOption(),
		}},
		{Flags: FlagOptions, Options: []Option{
			{Type: OptTriggerChallenge, Trigger: stackTrig},
			{Type: OptTriggerNotPresent, ID: c},
			{Type: OptRequestForCache},
			{Type: OptTriggerRateLimit, ID: a},
			ErrorOption(ErrorBody{Code: ErrCodeRateLimited, ID: a, Message: "slow down"}),
			ServerListOption([]Addr{IPAddr(netip.MustParseAddrPort("198.18.0.1:5610")), IPAddr(netip.MustParseAddrPort("[2001:db8::2]:5610"))}),
		}},
		{Flags: FlagData | FlagOptions, Stack: StackOf(a), Options: []Option{{Type: OptLogPacket}, {Type: 0x7e, Body: []byte{9, 9, 9}}}, Payload: []byte{0xff}},
		{Flags: FlagOptions, Options: []Option{ReplicateOption(&replicas[0]), ReplicateOption(&replicas[2]), ServerListRequest()}},
	}
}

func TestRoundTrip(t *testing.T) {
	for i, p := range samplePackets() {
		b := p.AppendTo(nil)
		if len(b) != p.HeaderLen()+len(p.Payload) {
			t.Errorf("packet %d: len %d, HeaderLen+payload %d", i, len(b), p.HeaderLen()+len(p.Payload))
		}
		var q Packet
		if err := q.Decode(b); err != nil {
			t.Fatalf("packet %d: decode: %v", i, err)
		}
		if q.Flags != p.Flags || q.Stack != p.Stack || len(q.Options) != len(p.Options) {
			t.Fatalf("packet %d: decoded %+v", i, q)
		}
		for j := range p.Options {
			po, qo := p.Options[j], q.Options[j]
			if po.Type != qo.Type || po.Addr != qo.Addr || po.Trigger != qo.Trigger || po.ID != qo.ID || !bytes.Equal(po.Body, qo.Body) {
				t.Errorf("packet %d option %d: %+v != %+v", i, j, qo, po)
			}
		}
		if p.Flags&FlagData != 0 && !bytes.Equal(q.Payload, p.Payload) {
			t.Errorf("packet %d: payload %x", i, q.Payload)
		}
		if c := q.AppendTo(nil); !bytes.Equal(c, b) {
			t.Errorf("packet %d: re-encode differs", i)
		}
	}
}

func TestMinHeaderIs35(t *testing.T) {
	p := Packet{Flags: FlagData, Stack: StackOf(id.Random())}
	if n := p.HeaderLen(); n != MinHeader || MinHeader != 35 {
		t.Fatalf("one-id data header is %d bytes", n)
	}
}

func TestDecodeErrors(t *testing.T) {
	good := (&Packet{Flags: FlagOptions, Stack: StackOf(id.Random()), Options: []Option{
		{Type: OptSender, Addr: IPAddr(netip.MustParseAddrPort("10.0.0.1:1"))}}}).AppendTo(nil)
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"two bytes", []byte{0x10, 0x10}, ErrTruncated},
		{"ping", []byte{0x11, 0, 0}, ErrPing},
		{"version", []byte{0x20, 0, 0}, ErrVersion},
		{"stack longer than datagram", []byte{0x10, FlagData, 2, 1, 2, 3}, ErrTruncated},
		{"data without ids", []byte{0x10, FlagData, 0, 'x'}, ErrNoIDs},
		{"trailing bytes on control", []byte{0x10, 0, 0, 'x'}, ErrTrailing},
		{"option list length too long", mut(func(b []byte) []byte { b[35] = 0xff; return b }), ErrOptionList},
		{"option list length below 2", mut(func(b []byte) []byte { b[35], b[36] = 0, 1; return b }), ErrOptionList},
		{"option list cut", mut(func(b []byte) []byte { return b[:37] }), ErrOptionList},
		{"unknown option", mut(func(b []byte) []byte { b[37] = 0x2f; return b }), ErrUnknownOption},
		{"bad address type", mut(func(b []byte) []byte { b[38] = 0x40; return b }), ErrAddrKind},
		{"address cut", mut(func(b []byte) []byte { b[36] -= 2; return b[:len(b)-2] }), ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Packet
			if err := p.Decode(tt.b); !errors.Is(err, tt.want) {
				t.Fatalf("Decode(%x) = %v, want %v", tt.b, err, tt.want)
			}
		})
	}
}

func TestSignature(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	trig := Trigger{ID: id.FromPublicKey(pub), PrefixLen: 256, Target: IPAddr(netip.MustParseAddrPort("10.0.0.1:1"))}
	o := Sign(priv, SigInsert, &trig, time.Unix(1_800_000_000, 0))
	s, err := ParseSignature(o.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Verify(SigInsert, &trig) || s.Time != 1_800_000_000 || !bytes.Equal(s.PublicKey[:], pub) {
		t.Fatal("valid signature does not verify")
	}
	if s.Verify(SigRemove, &trig) {
		t.Fatal("insert signature verifies as removal")
	}
	other := trig
	other.Target = IPAddr(netip.MustParseAddrPort("10.0.0.2:1"))
	if s.Verify(SigInsert, &other) {
		t.Fatal("signature verifies for another target")
	}
	other = trig
	other.Nonce[0] = 1 // the nonce is not signed: it changes with each challenge
	if !s.Verify(SigInsert, &other) {
		t.Fatal("signature depends on the nonce")
	}
	if _, err := ParseSignature(o.Body[1:]); !errors.Is(err, ErrExtBody) {
		t.Fatalf("short body: %v", err)
	}
}

func TestErrorAndServerList(t *testing.T) {
	x := id.Random()
	e, err := ParseError(ErrorOption(ErrorBody{Code: ErrCodeTableFull, ID: x, Message: "full"}).Body)
	if err != nil || e.Code != ErrCodeTableFull || e.ID != x || e.Message != "full" {
		t.Fatalf("%+v %v", e, err)
	}
	if e.Code.String() != "trigger table full" || ErrorCode(99).String() != "error 99" {
		t.Fatal("ErrorCode.String")
	}
	addrs := []Addr{IPAddr(netip.MustParseAddrPort("198.18.0.1:5610"))}
	got, err := ParseServerList(nil, ServerListOption(addrs).Body)
	if err != nil || len(got) != 1 || got[0] != addrs[0] {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := ParseServerList(nil, []byte{2, 0x20}); err == nil {
		t.Fatal("truncated server list accepted")
	}
}

func TestIPAddrUnmaps(t *testing.T) {
	a := IPAddr(netip.MustParseAddrPort("[::ffff:10.0.0.1]:80"))
	if a.Kind != AddrIPv4 || a.IP.Addr() != netip.MustParseAddr("10.0.0.1") {
		t.Fatalf("%+v", a)
	}
}

func BenchmarkDecodeData(b *testing.B) {
	buf := (&Packet{Flags: FlagData, Stack: StackOf(id.Random()), Payload: make([]byte, 1200)}).AppendTo(nil)
	var p Packet
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if err := p.Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeInsert(b *testing.B) {
	ps := samplePackets()
	buf := ps[2].AppendTo(nil)
	var p Packet
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendData(b *testing.B) {
	p := Packet{Flags: FlagData, Stack: StackOf(id.Random()), Payload: make([]byte, 1200)}
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = p.AppendTo(buf[:0])
	}
}

func sampleReplicas() []Replica {
	a, b := id.FromName("a"), id.Random()
	return []Replica{
		{Op: ReplicateInstall, Lifetime: 29500, Inserter: netip.MustParseAddrPort("198.18.0.7:4000"),
			Trigger: Trigger{Flags: TriggerShortcut, ID: a, PrefixLen: 128, Target: IPAddr(netip.MustParseAddrPort("198.18.0.7:4000")), Key: [16]byte{7}}},
		{Op: ReplicateInstall, Lifetime: 1, Inserter: netip.MustParseAddrPort("[2001:db8::]:0"),
			Trigger: Trigger{ID: b, PrefixLen: 200, Target: StackAddr(a, b)}},
		{Op: ReplicateRemove, Inserter: netip.MustParseAddrPort("10.0.0.1:0"),
			Trigger: Trigger{ID: a, PrefixLen: 128, Target: IPAddr(netip.MustParseAddrPort("[2001:db8::1]:4433"))}},
	}
}

func TestReplicate(t *testing.T) {
	for i, r := range sampleReplicas() {
		o := ReplicateOption(&r)
		if len(o.Body) != r.EncodedLen() {
			t.Errorf("replica %d: %d bytes, EncodedLen %d", i, len(o.Body), r.EncodedLen())
		}
		// In a packet, with others, and back.
		p := Packet{Flags: FlagOptions, Options: []Option{o, o}}
		var q Packet
		if err := q.Decode(p.AppendTo(nil)); err != nil || len(q.Options) != 2 {
			t.Fatalf("replica %d: decode: %v", i, err)
		}
		var got Replica
		if err := ParseReplicate(q.Options[1].Body, &got); err != nil || got != r {
			t.Errorf("replica %d: parsed %+v, %v; want %+v", i, got, err, r)
		}
		if a := testing.AllocsPerRun(100, func() { _ = ParseReplicate(o.Body, &got) }); a != 0 {
			t.Errorf("replica %d: parsing allocates %.0f", i, a)
		}
	}
	good := ReplicateOption(&sampleReplicas()[0]).Body
	patch := func(i int, v byte) []byte { b := bytes.Clone(good); b[i] = v; return b }
	for name, body := range map[string][]byte{
		"empty":          nil,
		"unknown op":     patch(0, 3),
		"short trigger":  good[:40],
		"no inserter":    good[:len(good)-7],
		"trailing":       append(bytes.Clone(good), 0),
		"stack inserter": append(bytes.Clone(good[:len(good)-7]), byte(AddrStack), 0),
	} {
		var r Replica
		if err := ParseReplicate(body, &r); !errors.Is(err, ErrExtBody) {
			t.Errorf("%s: error %v, want ErrExtBody", name, err)
		}
	}
}

func TestServerListCap(t *testing.T) {
	addrs := make([]Addr, 300)
	for i := range addrs {
		addrs[i] = IPAddr(netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), 5610))
	}
	got, err := ParseServerList(nil, ServerListOption(addrs).Body)
	if err != nil || len(got) != MaxServerList {
		t.Errorf("%d addresses, %v; want %d", len(got), err, MaxServerList)
	}
	if o := ServerListRequest(); o.Type != ExtServerList || len(o.Body) != 0 {
		t.Errorf("request %+v", o)
	}
}
