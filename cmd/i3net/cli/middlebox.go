package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/middlebox"
)

func init() {
	register(&Command{
		Name:       "middlebox",
		Order:      46,
		ShortUsage: "i3net middlebox --config FILE [flags]",
		ShortHelp:  "Run a middlebox: hosts that impose it send their sessions through it, an IDS beside it reads them",
		LongHelp: `
The middlebox sits on the path of the sessions of the hosts that impose it
(paper §6.4): they send every frame to [its trigger for them, the peer], in
plaintext (authenticated, readable). It adds a pass tag made with a key only it
and that host hold (the host drops frames of a required middlebox without it, so
no peer can skip it) and sends the frame on. It writes the IP packet of each
frame into a tun device (ids_tun) that an IDS such as Suricata reads live
("suricata -i i3ids0"), follows the IDS's eve.json and sends every alert to the
host whose flow raised it, which shows it in its own "i3net status".

Hosts add the middlebox's key to their address book (i3net book add ids-mb
KEY); the middlebox lists the hosts it serves in its file, one [[host]] with
name and key each. Several middleboxes sharing one identity (copy identity.pem)
with different "anycast" names split the flows; when one dies they move to
another.

The configuration file (TOML) holds: servers, listen, ids_tun, ids_mtu,
eve_json, eve_poll, anycast, [[host]] name, key (docs/middlebox.md). Flags
given here override it. With ids_tun it needs Linux and root (or
CAP_NET_ADMIN) for the tun device.

Examples:
  i3net id --state-dir /var/lib/i3net-mb
  i3net middlebox --state-dir /var/lib/i3net-mb --config /etc/i3net/middlebox.toml
  suricata -i i3ids0
  i3net status --state-dir /var/lib/i3net-mb`,
		Flags: func() (*flag.FlagSet, func(context.Context, []string) error) {
			fs := flag.NewFlagSet("middlebox", flag.ContinueOnError)
			a := &middleboxArgs{}
			a.state.addDirFlag(fs)
			fs.StringVar(&a.config, "config", "", "the middlebox's configuration `FILE` (TOML; required)")
			fs.Var(&a.servers, "server", "overlay server `ADDR:PORT` (repeatable; overrides the file's servers)")
			fs.StringVar(&a.logLevel, "log-level", "info", "`LEVEL` of logs: debug, info, warn, error")
			return fs, noArgs(a.run)
		},
	})
}

type middleboxArgs struct {
	state    stateFlags
	config   string
	servers  addrList
	logLevel string
}

// options returns what comes from the state directory and the flags.
func (a *middleboxArgs) options() (middlebox.Options, error) {
	var opt middlebox.Options
	ident, err := identity.Load(a.state.identityPath())
	if err != nil {
		return opt, fmt.Errorf("%w (create one with: i3net id --state-dir %s)", stateError(err), a.state.dir)
	}
	opt.Identity = ident
	opt.ControlPath = controlPath(a.state.dir)
	log, err := newLogger(a.logLevel)
	if err != nil {
		return opt, err
	}
	opt.Logger = log.With("role", "middlebox")
	return opt, nil
}

func (a *middleboxArgs) run(ctx context.Context) error {
	if a.config == "" {
		return usageErrorf("no configuration file: give --config FILE (docs/middlebox.md shows one)")
	}
	cfg, err := middlebox.LoadConfig(a.config)
	if err != nil {
		return err
	}
	if len(a.servers) > 0 {
		cfg.Servers = a.servers
	}
	if len(cfg.Servers) == 0 {
		return usageErrorf("no overlay server: set servers in %s or give --server ADDR:PORT", a.config)
	}
	opt, err := a.options()
	if err != nil {
		return err
	}
	m, err := middlebox.New(cfg, opt)
	if err != nil {
		return err
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-m.Up():
			st := m.Status()
			fmt.Fprintf(Stdout, "i3net middlebox up: id %s, %d hosts, IDS device %q; status: i3net status --state-dir %s\n",
				st.Self.ID[:8], len(cfg.Hosts), cfg.IDSTun, a.state.dir)
		case <-stop:
		}
	}()
	err = m.Run(ctx)
	close(stop)
	<-done
	return err
}
