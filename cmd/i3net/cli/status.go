package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	iofs "io/fs"
	"os"
	"text/tabwriter"
	"time"

	"github.com/i3net/i3net/proxy"
)

func init() {
	register(&Command{
		Name:       "status",
		Order:      41,
		ShortUsage: "i3net status [--json] [--state-dir DIR]",
		ShortHelp:  "Show the running proxy: this host, its peers, their sessions and traffic",
		LongHelp: `
Status asks the proxy of this host (over its control socket in the state
directory) what it knows: this host's addresses and id, and one line per peer
with its name, virtual addresses, session state, traffic and last use. It exits
1 when no proxy runs.

Examples:
  i3net status
  i3net status --json | jq .peers`,
		Flags: func() (*flag.FlagSet, func(context.Context, []string) error) {
			fs := flag.NewFlagSet("status", flag.ContinueOnError)
			var state stateFlags
			state.addDirFlag(fs)
			asJSON := fs.Bool("json", false, "print the status as JSON")
			return fs, noArgs(func(ctx context.Context) error {
				ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				defer cancel()
				sock := controlPath(state.dir)
				if _, err := os.Stat(sock); errors.Is(err, iofs.ErrNotExist) {
					return fmt.Errorf("no proxy runs with state directory %s (no %s): start one with i3net proxy, or name its directory with --state-dir or $%s",
						state.dir, sock, stateDirEnv)
				}
				st, err := proxy.ReadStatus(ctx, sock)
				if err != nil {
					return err
				}
				if *asJSON {
					enc := json.NewEncoder(Stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(st)
				}
				printStatus(st)
				return nil
			})
		},
	})
}

// overlayLine says how this host reaches the overlay: its first hop and that
// server's round trip, how many servers it knows (and how many are down), and
// what it knows of a NAT in front of it.
func overlayLine(st proxy.Status) string {
	if !st.FirstHop.IsValid() {
		return ""
	}
	line := fmt.Sprintf("# overlay: first hop %v", st.FirstHop)
	down := 0
	for _, s := range st.Known {
		if s.Addr == st.FirstHop && s.RTT > 0 {
			line += fmt.Sprintf(" (rtt %v)", s.RTT.Round(time.Microsecond))
		}
		if s.Down {
			down++
		}
	}
	if n := len(st.Known); n == 1 {
		line += ", 1 server known"
	} else {
		line += fmt.Sprintf(", %d servers known", n)
	}
	if down > 0 {
		line += fmt.Sprintf(" (%d down)", down)
	}
	switch {
	case !st.NAT.Known:
	case st.NAT.Behind:
		line += fmt.Sprintf(", behind a NAT: seen as %v", st.NAT.Observed)
	default:
		line += ", no NAT"
	}
	return line
}

// triggerLine says which server holds one of this host's triggers.
func triggerLine(t proxy.TriggerStatus) string {
	line := "# trigger public " + t.ID
	if t.Kind != "public" {
		peer := t.Peer
		if len(peer) > 20 { // an unnamed peer: its key
			peer = "(" + peer[:14] + "…)"
		}
		line = fmt.Sprintf("# trigger for %s %s", peer, t.ID)
	}
	if t.Server.IsValid() {
		line += fmt.Sprintf(" held by %v", t.Server)
	} else {
		line += " not acked yet"
	}
	if t.Lapsed {
		line += " (lapsed: no ack within the trigger TTL)"
	}
	if t.Error != "" {
		line += "; last refresh: " + t.Error
	}
	return line
}

func printStatus(st proxy.Status) {
	if st.Middlebox != nil {
		printMiddlebox(st) // middleboxstatus.go
		return
	}
	if len(st.Overlays) > 0 {
		fmt.Fprintln(Stdout, overlayHeader(st)) // statusoverlays.go
	}
	fmt.Fprintf(Stdout, "# this host: %s  %s  id %s…  dns %s  via %v from %v\n",
		st.Self.Addr4, addrText(st.Self.Addr6), st.Self.ID[:8], st.Self.DNS, st.Servers, st.Local)
	if st.Self.Mode == "userspace" {
		exposed := "none (--expose)"
		if len(st.Self.Exposed) > 0 {
			exposed = fmt.Sprint(st.Self.Exposed)
		}
		fmt.Fprintf(Stdout, "# userspace mode (no tun device): programs use the SOCKS5/HTTP proxy; peers reach loopback ports %s\n", exposed)
	}
	if line := overlayLine(st); line != "" {
		fmt.Fprintln(Stdout, line)
	}
	for _, t := range st.Triggers {
		fmt.Fprintln(Stdout, triggerLine(t))
	}
	tw := tabwriter.NewWriter(Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tADDRESS\tID\tSTATE\tTX\tRX\tLAST USE")
	for _, p := range st.Peers {
		name := p.Name
		if name == "" {
			name = "(" + p.Key[:14] + "…)"
		}
		state := p.State
		if p.Mode != "" {
			state += "; " + p.Mode
			if p.Mode == "encrypted" && p.Cipher != "" {
				state += " (" + p.Cipher + ")"
			}
		}
		if !p.Preserved {
			state += "; rewritten"
		}
		if p.Anonymous {
			state += "; anonymous"
		}
		last := "-"
		if !p.LastUse.IsZero() {
			last = time.Since(p.LastUse).Round(time.Second).String() + " ago"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s…\t%s\t%d pkts %s\t%d pkts %s\t%s\n", name, p.Addr4, p.ID[:8], state,
			p.TxPackets, humanBytes(p.TxBytes), p.RxPackets, humanBytes(p.RxBytes), last)
	}
	tw.Flush()
	if len(st.Peers) == 0 {
		fmt.Fprintln(Stdout, "# no peers yet: programs reach a host of the address book as NAME."+st.Self.Suffix)
	}
	for _, p := range st.Peers {
		if p.Error != "" {
			fmt.Fprintf(Stdout, "# %s: %s\n", p.Name, p.Error)
		}
		if line := anonLine(p); line != "" {
			fmt.Fprintln(Stdout, line)
		}
	}
	printRules(st)
	printGateway(st.Gateway)
	printIngress(st.Ingress)
	printPublished(st)
	printAlerts(st)
	printOverlays(st)
}

func humanBytes(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
