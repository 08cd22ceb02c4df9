package cli

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/i3net/i3net/internal/demo"
)

func init() {
	register(&Command{
		Name:       "demo",
		Order:      90,
		ShortUsage: "i3net demo [flags]",
		ShortHelp:  "Show what i3net does, step by step, on this machine alone",
		LongHelp: `
The demonstration builds everything it needs on this machine, narrates each step
with its timing, and removes what it built when it ends (or is interrupted).

First the overlay's primitives (paper §2), with one server and native clients
on loopback: a trigger inserted through a challenge, unicast, multicast to three
receivers, anycast picking the longest match, a packet through an id stack
(service composition), and a round trip through a trigger.

Then the legacy proxy (§3, §4) over an overlay of three servers: hosts made
of network namespaces — three servers and a laptop on an "internet" bridge, a
home host behind a NAT. The servers join into one ring (the demo says which
server owns which part of it, and so which one holds home's trigger); home and
laptop get an identity, an address book naming the other, and a proxy that
knows only the first server; then unmodified curl and ping on laptop reach
home by name (home.i3) through the NAT, encrypted, the servers' counters show
the one-hop forwarding and the cache hints, and "i3net status" shows the
session. This part needs Linux and root.

Without root (or without the right to make namespaces), or with --userspace,
a userspace part stands for it, and the demo says what it leaves out: an
overlay server on 127.0.0.1, laptop and home as two "i3net proxy --userspace"
processes, a web server on home's loopback that home exposes (--expose), and
curl on laptop reaching it as home.i3 through laptop's SOCKS5 and HTTP proxy;
then a name nobody has, and "i3net status" of laptop.

Examples:
  sudo i3net demo
  i3net demo                  # without root: the overlay and the userspace mode
  i3net demo --overlay-only   # the first part alone
  ./scripts/demo              # builds i3net first, installing what is missing`,
		Flags: func() (*flag.FlagSet, func(context.Context, []string) error) {
			fs := flag.NewFlagSet("demo", flag.ContinueOnError)
			var opt demo.Options
			fs.BoolVar(&opt.OverlayOnly, "overlay-only", false, "show only the overlay on loopback (needs no root)")
			fs.BoolVar(&opt.Userspace, "userspace", false, "show the userspace mode (proxies without root, on loopback) instead of the namespaces, even as root")
			return fs, func(ctx context.Context, args []string) error { return runDemo(ctx, args, opt) }
		},
	})
}

// runDemo runs the demo with opt, its narration on Stdout.
func runDemo(ctx context.Context, args []string, opt demo.Options) error {
	if len(args) > 0 {
		return usageErrorf("unexpected argument %q", args[0])
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the i3net executable the demo runs: %w", err)
	}
	opt.Out, opt.Self = Stdout, self
	return demo.Run(ctx, opt)
}
