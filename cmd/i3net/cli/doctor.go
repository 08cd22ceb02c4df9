package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/i3net/i3net/internal/controlsock"
	"github.com/i3net/i3net/internal/doctor"
	"github.com/i3net/i3net/proxy"
)

func init() {
	register(&Command{
		Name:       "doctor",
		Order:      42,
		ShortUsage: "i3net doctor [--server ADDR ...] [--config FILE] [--state-dir DIR] [--json]",
		ShortHelp:  "Check that this host can run the proxy, and say what to fix",
		LongHelp: `
Doctor checks what the proxy needs, one line per check (ok, warn or fail, and
the remedy): Linux; the tun device; root or CAP_NET_ADMIN (without them,
--userspace works); the resolver file (systemd-resolved's? writable?); the
virtual address pools against this host's routes; the identity and address
book in the state directory; and each overlay server, pinged, then a trigger
inserted through the nearest to learn whether a NAT is in front of this host.
It changes nothing on the host. The exit status is 0 when no check fails, 1
otherwise.

Examples:
  i3net doctor --server 198.18.0.1:5610
  i3net doctor --config /etc/i3net/proxy.toml --json`,
		Flags: func() (*flag.FlagSet, func(context.Context, []string) error) {
			fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
			a := &doctorArgs{flags: fs}
			a.state.addDirFlag(fs)
			a.state.addBookFlag(fs)
			def := proxy.DefaultConfig()
			fs.StringVar(&a.configFile, "config", "", "the proxy's configuration `FILE` (TOML): its servers are checked too")
			fs.Var(&a.servers, "server", "overlay server `ADDR:PORT` to check (repeat for several)")
			fs.StringVar(&a.pool4, "pool4", def.Pool4.String(), "the proxy's IPv4 virtual address `PREFIX`")
			fs.StringVar(&a.pool6, "pool6", def.Pool6.String(), "the proxy's IPv6 virtual address `PREFIX` (\"off\": none)")
			fs.StringVar(&a.resolvConf, "resolv-conf", def.ResolvConf, "the resolver `FILE` the proxy would point at itself")
			fs.BoolVar(&a.noResolv, "no-resolv-conf", false, "the proxy will leave the resolver alone")
			fs.BoolVar(&a.noExt, "no-extensions", false, "speak only the original 2004 i3 protocol to the servers")
			durationVar(fs, &a.timeout, "timeout", 2*time.Second, "wait at most `D` for each server's answer")
			fs.BoolVar(&a.asJSON, "json", false, "print the results as JSON")
			return fs, noArgs(a.run)
		},
	})
}

type doctorArgs struct {
	state      stateFlags
	configFile string
	servers    addrList
	pool4      string
	pool6      string
	resolvConf string
	noResolv   bool
	noExt      bool
	timeout    time.Duration
	asJSON     bool
	flags      *flag.FlagSet // which flags were given: they win over the --config file
}

// checks runs every check and returns their results in order.
func (a *doctorArgs) checks(ctx context.Context) ([]doctor.Result, error) {
	if a.timeout <= 0 {
		return nil, usageErrorf("--timeout %v: want a positive duration, e.g. 2s", a.timeout)
	}
	servers := a.servers
	if a.configFile != "" {
		f, _, err := loadProxyFile(a.configFile)
		if err != nil {
			return nil, err
		}
		servers = append(f.Servers, servers...)
		a.fileHost(f.hostFile)
	}
	pool4, err := parsePrefix("pool4", a.pool4)
	if err != nil {
		return nil, err
	}
	var pool6 netip.Prefix
	if a.pool6 != "off" {
		if pool6, err = parsePrefix("pool6", a.pool6); err != nil {
			return nil, err
		}
	}
	resolv := a.resolvConf
	if a.noResolv {
		resolv = ""
	}
	status, _ := os.ReadFile("/proc/self/status")
	running, isRunning := doctor.CheckRunning(controlPath(a.state.dir), controlsock.InUse)
	pools := doctor.CheckPools(pool4, pool6, nil)
	if isRunning {
		pools = doctor.RunningPools(pools)
	}
	rs := []doctor.Result{
		doctor.CheckOS(runtime.GOOS),
		doctor.CheckTun("/dev/net/tun"),
		doctor.CheckCaps(os.Geteuid(), status),
		doctor.CheckResolver(resolv),
		running,
		pools,
		doctor.CheckIdentity(a.state.identityPath(), a.state.dir),
		doctor.CheckBook(a.state.bookPath()),
	}
	rs = append(rs, doctor.CheckServers(ctx, servers, doctor.ServerOptions{Timeout: a.timeout, NoExtensions: a.noExt})...)
	return rs, nil
}

// fileHost takes the proxy file's pools and resolver mode where no flag was
// given for them: the doctor checks the proxy the file configures.
func (a *doctorArgs) fileHost(h hostFile) {
	if h.Pool4 != "" && !flagGiven(a.flags, "pool4") {
		a.pool4 = h.Pool4
	}
	if h.Pool6 != "" && !flagGiven(a.flags, "pool6") {
		a.pool6 = h.Pool6
	}
	if strings.EqualFold(h.DNSMode, "off") {
		a.noResolv = true
	}
}

func (a *doctorArgs) run(ctx context.Context) error {
	rs, err := a.checks(ctx)
	if err != nil {
		return err
	}
	if a.asJSON {
		enc := json.NewEncoder(Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rs); err != nil {
			return err
		}
	} else {
		printDoctor(rs)
	}
	failed := 0
	for _, r := range rs {
		if r.Level == doctor.Fail {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d checks failed: fix them as the lines above say", failed, len(rs))
	}
	return nil
}

// printDoctor prints a line per result: level, check, what was found and,
// after a dash, what to do.
func printDoctor(rs []doctor.Result) {
	tw := tabwriter.NewWriter(Stdout, 0, 8, 2, ' ', 0)
	for _, r := range rs {
		line := r.Detail
		if r.Fix != "" {
			line += " — " + r.Fix
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Level, r.Check, line)
	}
	tw.Flush()
}
