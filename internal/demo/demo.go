// Package demo is "i3net demo": it shows what i3net does, step by step, on
// this machine alone, narrating each step with its timing. The overlay part
// runs one server and native clients in this process, on loopback; the lab
// part builds hosts out of network namespaces (internal/netlab), runs i3net
// servers and proxies in them as separate processes, and has unmodified curl
// and ping reach a host behind a NAT by name, then an intranet's web server
// through an i3-to-IP gateway ("i3net gateway"), then has phone, which runs
// nothing of i3net, reach home's web server by a DNS name through an IP-to-i3
// ingress ("i3net ingress"), and last has home impose a middlebox ("i3net
// middlebox") whose IDS, Suricata, sees laptop's FTP upload of eggdrop and
// alerts home. Without root (or without the right to make namespaces) a
// userspace part stands for the lab: two "i3net proxy --userspace" processes
// on loopback, and curl reaching one's web server from the other through its
// SOCKS5 and HTTP proxy (userspace.go). Whatever the demo started is stopped
// and removed when it ends, fails or is interrupted.
//
// Each part is a list of phases, run in order; each phase is a function that
// narrates one chapter and reads top to bottom.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"
)

// Options says what the demo shows and where.
type Options struct {
	// Out receives the narration.
	Out io.Writer
	// OverlayOnly skips the lab part (which needs Linux and root).
	OverlayOnly bool
	// Userspace runs the userspace part instead of the lab even where the
	// lab could run (without root it always does).
	Userspace bool
	// Self is the i3net executable the lab and userspace parts run as
	// servers, proxies and for "i3net id", "book" and "status".
	Self string
}

// labTimeout bounds the lab part (about 10 s on a quiet machine; a race
// build on a loaded one has taken two minutes); userspaceTimeout the
// userspace part (about 1 s); overlayTimeout the overlay part.
const (
	labTimeout       = 5 * time.Minute
	userspaceTimeout = time.Minute
	overlayTimeout   = 30 * time.Second
)

// Run shows the overlay part and, unless opt.OverlayOnly, the lab part, or
// the userspace part where the lab cannot run for want of privileges (it
// says so at the start and at the end). An interrupt (ctx ends) stops it
// after cleaning up.
func Run(ctx context.Context, opt Options) error {
	n := &narrator{w: opt.Out, start: time.Now()}
	fmt.Fprintln(n.w, "i3net demo: the i3 overlay on this machine")
	why := ""
	if !opt.OverlayOnly {
		why = userspaceReason(runtime.GOOS, opt.Userspace)
	}
	if why != "" {
		fmt.Fprintf(n.w, "%s: this run shows the overlay and the userspace mode (proxies without root).\n%s\n", why, tunHalfNote)
	}
	if err := runOverlay(ctx, n); err != nil {
		return interrupted(ctx, err)
	}
	if err := runSecondPart(ctx, n, opt, why != ""); err != nil {
		return interrupted(ctx, err)
	}
	fmt.Fprintf(n.w, "\ndone in %v; everything the demo started has stopped.\n", time.Since(n.start).Round(time.Millisecond))
	if why != "" {
		fmt.Fprintln(n.w, tunHalfNote)
	}
	return nil
}

// runSecondPart runs the lab part, or the userspace part if userspace,
// unless opt.OverlayOnly.
func runSecondPart(ctx context.Context, n *narrator, opt Options, userspace bool) error {
	switch {
	case opt.OverlayOnly:
		return nil
	case userspace:
		return runUserspace(ctx, n, opt.Self)
	default:
		return runLab(ctx, n, opt.Self)
	}
}

// interrupted replaces err by a plain statement when the demo was
// interrupted (Ctrl-C): the errors of the steps cut short say nothing more.
func interrupted(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return errors.New("interrupted; everything the demo started has stopped")
	}
	return err
}

// phase is one chapter of a part of the demo.
type phase func(ctx context.Context) error

// runPhases runs the phases in order and stops at the first error.
func runPhases(ctx context.Context, phases ...phase) error {
	for _, p := range phases {
		if err := p(ctx); err != nil {
			return err
		}
	}
	return nil
}

// narrator prints numbered chapters, and steps with the time since the demo
// started.
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
