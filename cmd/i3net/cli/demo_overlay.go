package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/server"
)

// narrator prints numbered steps with the time since the demo started.
type narrator struct {
	w     io.Writer
	start time.Time
	step  int
}

func (n *narrator) say(format string, args ...any) {
	fmt.Fprintf(n.w, "[%7.3fs] %s\n", time.Since(n.start).Seconds(), fmt.Sprintf(format, args...))
}

func (n *narrator) chapter(title string) {
	n.step++
	fmt.Fprintf(n.w, "\n%d. %s\n", n.step, title)
}

// demoOverlay shows the overlay's primitives (paper §2) on loopback, in process:
// one server and a few native clients. It needs no privileges.
func demoOverlay(ctx context.Context, n *narrator) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	n.chapter("An overlay server on loopback")
	scfg := server.DefaultConfig()
	scfg.ListenAddr = "127.0.0.1:0"
	scfg.Logger = slog.New(slog.DiscardHandler)
	srv, err := server.New(scfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	go srv.Run(ctx)
	n.say("server listening on %v (trigger TTL %v)", srv.Addr(), scfg.TriggerTTL)

	inbox := func() (chan string, func(client.Delivery)) {
		ch := make(chan string, 16)
		return ch, func(d client.Delivery) {
			select {
			case ch <- string(d.Payload):
			default:
			}
		}
	}
	newClient := func(h func(client.Delivery)) (*client.Client, error) {
		cfg := client.DefaultConfig()
		cfg.Servers = []netip.AddrPort{srv.Addr()}
		cfg.LocalAddr = netip.MustParseAddrPort("127.0.0.1:0")
		cfg.Handler = h
		return client.New(cfg)
	}
	wait := func(ch chan string, who string) error {
		select {
		case m := <-ch:
			n.say("  %s received %q", who, m)
			return nil
		case <-time.After(3 * time.Second):
			return fmt.Errorf("demo: %s received nothing within 3s", who)
		}
	}

	n.chapter("Unicast: a receiver inserts a trigger, a sender sends to its id")
	homeIn, homeH := inbox()
	home, err := newClient(homeH)
	if err != nil {
		return err
	}
	defer home.Close()
	laptop, err := newClient(nil)
	if err != nil {
		return err
	}
	defer laptop.Close()
	homeID := id.Random()
	t0 := time.Now()
	if _, err := home.Insert(ctx, client.Trigger{ID: homeID}); err != nil {
		return err
	}
	n.say("home (%v) inserted trigger %s → itself: challenge answered, ACK after %v",
		home.LocalAddr(), homeID.Short(), time.Since(t0).Round(time.Microsecond))
	if err := laptop.SendTo(homeID, []byte("hello, home")); err != nil {
		return err
	}
	if err := wait(homeIn, "home"); err != nil {
		return err
	}

	n.chapter("Multicast: three receivers insert triggers with the same id")
	group := id.Random()
	var ins []chan string
	for i := range 3 {
		ch, h := inbox()
		c, err := newClient(h)
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.Insert(ctx, client.Trigger{ID: group}); err != nil {
			return err
		}
		ins = append(ins, ch)
		n.say("member %d (%v) joined %s", i+1, c.LocalAddr(), group.Short())
	}
	if err := laptop.SendTo(group, []byte("to everyone")); err != nil {
		return err
	}
	for i, ch := range ins {
		if err := wait(ch, fmt.Sprintf("member %d", i+1)); err != nil {
			return err
		}
	}

	n.chapter("Anycast: two servers of one service share the first 128 bits; the longest match wins")
	service := id.Random()
	nearID := service
	nearID[31] ^= 0x01 // shares 255 bits with what we send to
	farID := service
	farID[16] ^= 0x80 // shares only 128 bits
	nearIn, nearH := inbox()
	farIn, farH := inbox()
	for _, r := range []struct {
		x id.ID
		h func(client.Delivery)
	}{{nearID, nearH}, {farID, farH}} {
		c, err := newClient(r.h)
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.Insert(ctx, client.Trigger{ID: r.x, PrefixLen: 128}); err != nil {
			return err
		}
	}
	if err := laptop.SendTo(service, []byte("any one of you")); err != nil {
		return err
	}
	if err := wait(nearIn, "the longest match"); err != nil {
		return err
	}
	select {
	case m := <-farIn:
		return fmt.Errorf("demo: the shorter match received %q too", m)
	case <-time.After(100 * time.Millisecond):
		n.say("  the shorter match received nothing, as it should")
	}

	n.chapter("Service composition: a packet to the stack [transcoder, home] passes the transcoder first")
	transID := id.Random()
	transIn := make(chan string, 4)
	var trans *client.Client
	trans, err = newClient(func(d client.Delivery) {
		msg := "[transcoded] " + string(d.Payload)
		transIn <- msg
		trans.Send(d.Rest, []byte(msg)) // on to the rest of the stack
	})
	if err != nil {
		return err
	}
	defer trans.Close()
	if _, err := trans.Insert(ctx, client.Trigger{ID: transID}); err != nil {
		return err
	}
	if err := laptop.Send([]id.ID{transID, homeID}, []byte("raw media")); err != nil {
		return err
	}
	if err := wait(transIn, "the transcoder"); err != nil {
		return err
	}
	if err := wait(homeIn, "home"); err != nil {
		return err
	}

	n.chapter("A round trip through a trigger (what `i3net ping` measures)")
	pong, err := home.PingID(ctx, homeID, 64)
	if err != nil {
		return err
	}
	n.say("64 bytes home → server → home in %v", pong.RTT.Round(time.Microsecond))
	st := srv.Stats()
	n.say("server counters: %d triggers, %d packets forwarded", st.Triggers, st.Forwarded)
	return nil
}
