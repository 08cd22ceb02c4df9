package security

import (
	"crypto/rand"
	"net/netip"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/session"
	"github.com/i3net/i3net/server"
	"github.com/i3net/i3net/server/servertest"
	"github.com/i3net/i3net/wire"
)

// insertRaw runs a whole insertion of tr by r at srv (INSERT, CHALLENGE, INSERT
// with the nonce, ACK), with extra options on both INSERTs; it returns the
// refusal, if the server refused.
func insertRaw(t testing.TB, r *raw, srv netip.AddrPort, tr wire.Trigger, extra ...wire.Option) *wire.ErrorBody {
	t.Helper()
	r.send(srv, insertPacket(tr, r.addr, extra...))
	deadline := time.Now().Add(testwait.Timeout)
	for {
		b, _, err := r.read(deadline)
		if err != nil {
			t.Fatalf("%v: insertion of %v: no answer: %v", r.addr, tr.ID.Short(), err)
		}
		var p wire.Packet
		if p.Decode(b) != nil {
			continue
		}
		if e := p.Option(wire.ExtError); e != nil {
			eb, _ := wire.ParseError(e.Body)
			return &eb
		}
		if ch := p.Option(wire.OptTriggerChallenge); ch != nil && ch.Trigger.ID == tr.ID {
			tr.Nonce = ch.Trigger.Nonce
			r.send(srv, insertPacket(tr, r.addr, extra...))
		}
		if ack := p.Option(wire.OptTriggerAck); ack != nil && ack.Trigger.ID == tr.ID {
			return nil
		}
	}
}

// Attack 3: an impostor with another key answers for home.i3.
//
// (a) On an i3net server, which takes public ids only signed by their key, it
// cannot even insert home's public id.
//
// (b) On a server that takes unsigned public ids (RequireSignedPublic off, as
// the original i3 servers), it can: it then receives laptop's handshake
// message 1 for home, learns laptop's private id from the path (the insertion
// of a private trigger travels in clear), and answers with a well-formed
// message 2 made with its own key. Laptop's proxy refuses it (counted, and
// logged naming the key its book pins), no packet of the impostor reaches
// laptop's tun, and the mapping expires when the handshake times out.
func TestImpostorCannotAnswerForHome(t *testing.T) {
	homeKey, _ := identity.Generate()
	impostorKey, _ := identity.Generate()
	home := wire.Trigger{ID: homeKey.ID(), PrefixLen: 256}

	t.Run("i3net server refuses the insertion", func(t *testing.T) {
		srv := servertest.Start(t, nil)
		impostor := newRaw(t, "127.0.0.7")
		tr := home
		tr.Target = wire.IPAddr(impostor.addr)
		for _, c := range []struct {
			name  string
			extra []wire.Option
			want  wire.ErrorCode
		}{
			{"unsigned", nil, wire.ErrCodeSignatureNeeded},
			{"signed by the impostor", []wire.Option{wire.Sign(impostorKey.PrivateKey(), wire.SigInsert, &tr, time.Now())}, wire.ErrCodeBadSignature},
		} {
			e := insertRaw(t, impostor, srv.Addr(), tr, c.extra...)
			if e == nil || e.Code != c.want {
				t.Fatalf("%s: refusal %+v, want code %v", c.name, e, c.want)
			}
			t.Logf("%s: refused, %v: %s", c.name, e.Code, e.Message)
		}
		if st := srv.Stats(); st.Installed != 0 {
			t.Fatalf("server installed %d triggers", st.Installed)
		}
	})

	t.Run("original-compatible server: the handshake fails", func(t *testing.T) {
		path := newRelay(t)
		srv := servertest.Start(t, func(c *server.Config) {
			c.RequireSignedPublic = false
			c.PublicAddr = path.addr
		})
		path.attach(srv.Addr())

		impostor := newRaw(t, "127.0.0.7")
		tr := home
		tr.Target = wire.IPAddr(impostor.addr)
		if e := insertRaw(t, impostor, srv.Addr(), tr); e != nil {
			t.Fatalf("unsigned insertion of home's public id refused: %v %s", e.Code, e.Message)
		}
		t.Logf("the impostor %v holds home's public id %s", impostor.addr, homeKey.ID().Short())

		laptop := newHost(t, "laptop")
		laptop.WriteBook(t, map[string]*identity.Identity{"home": homeKey})
		laptop.Start(t, []netip.AddrPort{path.addr}, func(c *proxy.Config) { c.HandshakeTimeout = 2 * time.Second })
		v4, _, ok := laptop.PX.ResolveOverlay("home")
		if !ok {
			t.Fatal("home does not resolve")
		}
		self := laptop.Addr()
		laptop.Tun.Send(udp(t, self, v4, 1))

		// The impostor receives laptop's message 1 on home's public id.
		var msg1 []byte
		deadline := time.Now().Add(testwait.Timeout)
		for msg1 == nil {
			b, _, err := impostor.read(deadline)
			if err != nil {
				t.Fatalf("the impostor got no message 1: %v", err)
			}
			var p wire.Packet
			if p.Decode(b) == nil && p.Flags&wire.FlagData != 0 && session.TypeOf(p.Payload) == session.TypeHandshake1 {
				msg1 = p.Payload
			}
		}
		// It cannot read it (it is sealed to home's key)...
		resp, err := session.NewResponder(impostorKey, session.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := resp.Handle(msg1, func(session.Hello) (session.Reply, error) {
			return session.Reply{PrivID: id.Random().WithPublic(false)}, nil
		}, time.Now()); err == nil {
			t.Fatal("the impostor opened a message 1 sealed to home's key")
		}
		// ...but the path shows it laptop's private id.
		local := laptop.PX.Status().Local
		var laptopPriv id.ID
		for _, s := range path.seenWhere(func(s seen, p *wire.Packet) bool {
			o := p.Option(wire.OptTriggerInsert)
			return s.toward && s.host == local && o != nil && !o.Trigger.ID.IsPublic()
		}) {
			var p wire.Packet
			p.Decode(s.b)
			laptopPriv = p.Option(wire.OptTriggerInsert).Trigger.ID
		}
		if laptopPriv.IsZero() {
			t.Fatal("the path saw no private trigger of laptop")
		}

		// A well-formed message 2 made with the impostor's key: the
		// impostor plays both ends of a handshake to itself that names
		// laptop's private id.
		stranger, _ := identity.Generate()
		init, err := session.NewInitiator(stranger, impostorKey.Public(), laptopPriv, session.Options{}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		acc, err := resp.Handle(init.Message1(), func(session.Hello) (session.Reply, error) {
			return session.Reply{PrivID: id.Random().WithPublic(false), Flags: session.FlagPreserveHeaders}, nil
		}, time.Now())
		if err != nil || len(acc.Message2) != session.Handshake2Len {
			t.Fatalf("impostor's message 2: %d bytes, %v", len(acc.Message2), err)
		}
		for range 3 {
			impostor.send(srv.Addr(), dataPacket(laptopPriv, impostor.addr, acc.Message2))
		}
		// And data frames, as if the session were up.
		fake := make([]byte, session.Overhead+28)
		fake[0] = byte(session.TypeData)
		rand.Read(fake[1:])
		for range 3 {
			impostor.send(srv.Addr(), dataPacket(laptopPriv, impostor.addr, fake))
		}

		testwait.For(t, "laptop to refuse the impostor's message 2", func() bool { return laptop.Counter("drop_auth") >= 3 })
		lines := laptop.Log.Lines("handshake answer refused", "want_key="+homeKey.Public().String())
		if len(lines) != 1 {
			t.Fatalf("want one log line naming home's key, got %d:\n%s", len(lines), laptop.Log)
		}
		t.Logf("laptop logged: %s", lines[0])
		testwait.For(t, "laptop to give up on home", func() bool { return laptop.Counter("handshakes_failed") >= 1 })
		fail := laptop.Log.Lines("peer unreachable", "did not authenticate with its key "+homeKey.Public().String())
		if len(fail) != 1 {
			t.Fatalf("the failure does not name the key mismatch:\n%s", laptop.Log)
		}
		t.Logf("laptop logged: %s", fail[0])
		// The mapping stays, home marked unreachable (only TO without use
		// forgets it; bug 6): its packets are dropped until a handshake
		// with the real home succeeds.
		testwait.For(t, "home marked unreachable", func() bool {
			st := laptop.PX.Status()
			return len(st.Peers) == 1 && st.Peers[0].State == "unreachable"
		})
		for _, b := range laptop.Tun.Packets() {
			if len(b) >= 20 && netip.AddrFrom4([4]byte(b[12:16])) == v4 {
				t.Fatalf("a packet from home's address reached laptop's tun: %x", b)
			}
		}
		c := laptop.PX.Status().Counters
		t.Logf("laptop: drop_auth %d, drop_no_session %d, handshakes_failed %d, tun_out %d",
			c["drop_auth"], c["drop_no_session"], c["handshakes_failed"], c["tun_out"])
		if c["tun_out"] != 0 {
			t.Fatalf("laptop wrote %d packets into its tun", c["tun_out"])
		}
	})
}
