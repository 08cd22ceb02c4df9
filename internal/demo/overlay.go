package demo

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/server"
)

// The overlay part shows the overlay's primitives (paper §2) on loopback, in
// process: one server and a few native clients. It needs no privileges.

// waitDelivery bounds the wait for a packet a phase sent.
const waitDelivery = 3 * time.Second

// overlay is the state the overlay phases share.
type overlay struct {
	n       *narrator
	srv     *server.Server
	clients []*client.Client // every client started, closed at the end

	laptop *client.Client // sends everything
	home   *client.Client // receives, through trigger homeID
	homeID id.ID
	homeIn chan string
}

// runOverlay runs the overlay part and stops everything it started.
func runOverlay(ctx context.Context, n *narrator) error {
	ctx, cancel := context.WithTimeout(ctx, overlayTimeout)
	defer cancel()
	o := &overlay{n: n}
	defer o.close()
	return runPhases(ctx, o.startServer, o.unicast, o.multicast, o.anycast, o.composition, o.roundTrip)
}

// close stops the clients and the server.
func (o *overlay) close() {
	for _, c := range o.clients {
		c.Close()
	}
	if o.srv != nil {
		o.srv.Close()
	}
}

// startServer starts the overlay server on loopback.
func (o *overlay) startServer(ctx context.Context) error {
	o.n.chapter("An overlay server on loopback")
	cfg := server.DefaultConfig()
	cfg.ListenAddr = "127.0.0.1:0"
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	o.srv = srv
	go srv.Run(ctx)
	o.n.say("server listening on %v (trigger TTL %v)", srv.Addr(), cfg.TriggerTTL)
	return nil
}

// unicast: home inserts a trigger, laptop sends to its id.
func (o *overlay) unicast(ctx context.Context) error {
	o.n.chapter("Unicast: a receiver inserts a trigger, a sender sends to its id")
	var err error
	if o.homeIn, o.home, err = o.receiver(); err != nil {
		return err
	}
	if o.laptop, err = o.newClient(nil); err != nil {
		return err
	}
	o.homeID = id.Random()
	t0 := time.Now()
	if _, err := o.home.Insert(ctx, client.Trigger{ID: o.homeID}); err != nil {
		return err
	}
	o.n.say("home (%v) inserted trigger %s → itself: challenge answered, ACK after %v",
		o.home.LocalAddr(), o.homeID.Short(), time.Since(t0).Round(time.Microsecond))
	if err := o.laptop.SendTo(o.homeID, []byte("hello, home")); err != nil {
		return err
	}
	return o.wait(o.homeIn, "home")
}

// multicast: three receivers insert triggers with one id; one packet reaches
// all three.
func (o *overlay) multicast(ctx context.Context) error {
	o.n.chapter("Multicast: three receivers insert triggers with the same id")
	group := id.Random()
	var inboxes []chan string
	for i := range 3 {
		in, c, err := o.receiver()
		if err != nil {
			return err
		}
		if _, err := c.Insert(ctx, client.Trigger{ID: group}); err != nil {
			return err
		}
		inboxes = append(inboxes, in)
		o.n.say("member %d (%v) joined %s", i+1, c.LocalAddr(), group.Short())
	}
	if err := o.laptop.SendTo(group, []byte("to everyone")); err != nil {
		return err
	}
	for i, in := range inboxes {
		if err := o.wait(in, fmt.Sprintf("member %d", i+1)); err != nil {
			return err
		}
	}
	return nil
}

// anycast: two triggers share the first 128 bits of an id; a packet to it
// reaches only the longest match.
func (o *overlay) anycast(ctx context.Context) error {
	o.n.chapter("Anycast: two servers of one service share the first 128 bits; the longest match wins")
	service := id.Random()
	near, far := service, service
	near[31] ^= 0x01 // shares 255 bits with what we send to
	far[16] ^= 0x80  // shares only 128 bits
	var inboxes [2]chan string
	for i, x := range []id.ID{near, far} {
		in, c, err := o.receiver()
		if err != nil {
			return err
		}
		if _, err := c.Insert(ctx, client.Trigger{ID: x, PrefixLen: 128}); err != nil {
			return err
		}
		inboxes[i] = in
	}
	if err := o.laptop.SendTo(service, []byte("any one of you")); err != nil {
		return err
	}
	if err := o.wait(inboxes[0], "the longest match"); err != nil {
		return err
	}
	select {
	case m := <-inboxes[1]:
		return fmt.Errorf("demo: the shorter match received %q too", m)
	case <-time.After(100 * time.Millisecond):
		o.n.say("  the shorter match received nothing, as it should")
		return nil
	}
}

// composition: a packet to the id stack [transcoder, home] passes the
// transcoder, which sends it on to the rest of the stack.
func (o *overlay) composition(ctx context.Context) error {
	o.n.chapter("Service composition: a packet to the stack [transcoder, home] passes the transcoder first")
	transID := id.Random()
	transIn := make(chan string, 4)
	var trans *client.Client
	trans, err := o.newClient(func(d client.Delivery) {
		msg := "[transcoded] " + string(d.Payload)
		transIn <- msg
		trans.Send(d.Rest, []byte(msg)) // on to the rest of the stack
	})
	if err != nil {
		return err
	}
	if _, err := trans.Insert(ctx, client.Trigger{ID: transID}); err != nil {
		return err
	}
	if err := o.laptop.Send([]id.ID{transID, o.homeID}, []byte("raw media")); err != nil {
		return err
	}
	if err := o.wait(transIn, "the transcoder"); err != nil {
		return err
	}
	return o.wait(o.homeIn, "home")
}

// roundTrip: home pings its own trigger, as "i3net ping" does.
func (o *overlay) roundTrip(ctx context.Context) error {
	o.n.chapter("A round trip through a trigger (what `i3net ping` measures)")
	pong, err := o.home.PingID(ctx, o.homeID, 64)
	if err != nil {
		return err
	}
	o.n.say("64 bytes home → server → home in %v", pong.RTT.Round(time.Microsecond))
	st := o.srv.Stats()
	o.n.say("server counters: %d triggers, %d packets forwarded", st.Triggers, st.Forwarded)
	return nil
}

// newClient starts a client of the demo's server on loopback, handing what
// it receives to h.
func (o *overlay) newClient(h func(client.Delivery)) (*client.Client, error) {
	cfg := client.DefaultConfig()
	cfg.Servers = []netip.AddrPort{o.srv.Addr()}
	cfg.LocalAddr = netip.MustParseAddrPort("127.0.0.1:0")
	cfg.Handler = h
	c, err := client.New(cfg)
	if err != nil {
		return nil, err
	}
	o.clients = append(o.clients, c)
	return c, nil
}

// receiver starts a client whose payloads arrive on the returned channel
// (the oldest 16 kept).
func (o *overlay) receiver() (chan string, *client.Client, error) {
	in := make(chan string, 16)
	c, err := o.newClient(func(d client.Delivery) {
		select {
		case in <- string(d.Payload):
		default:
		}
	})
	return in, c, err
}

// wait narrates the next payload on in, or fails after waitDelivery.
func (o *overlay) wait(in chan string, who string) error {
	select {
	case m := <-in:
		o.n.say("  %s received %q", who, m)
		return nil
	case <-time.After(waitDelivery):
		return fmt.Errorf("demo: %s received nothing within %v", who, waitDelivery)
	}
}
