package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/internal/tomlconf"
	"github.com/i3net/i3net/internal/tundev"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/overlays"
)

// overlayFile is one [[overlay]] of the proxy's configuration file: a
// further overlay served on the same tun device (proxy/overlays).
//
//	[[overlay]]
//	suffix   = "lab"                # required, distinct
//	servers  = ["198.19.0.1:5610"]  # required
//	pool4    = "100.96.0.0/12"      # required, overlapping no other overlay's
//	pool6    = "fd7a:1ab::/64"      # optional; default and "off": no IPv6
//	identity = "lab.pem"            # optional; default: the host's identity
//	book     = "lab.book"           # optional; default STATE-DIR/book.lab
//	listen   = "0.0.0.0:5611"       # optional
type overlayFile struct {
	Suffix   string           `toml:"suffix"`
	Servers  []netip.AddrPort `toml:"servers"`
	Pool4    netip.Prefix     `toml:"pool4"`
	Pool6    string           `toml:"pool6"`
	Identity string           `toml:"identity"`
	Book     string           `toml:"book"`
	Listen   netip.AddrPort   `toml:"listen"`
}

// checkOverlayFiles checks each [[overlay]] alone (Check, at start, checks
// them against each other and the top-level overlay).
func checkOverlayFiles(meta tomlconf.Meta, ovs []overlayFile) error {
	for i, o := range ovs {
		key := func(k string) []string { return []string{"overlay", strconv.Itoa(i), k} }
		suffix := strings.Trim(o.Suffix, ".")
		if checkSuffix(o.Suffix) != nil {
			return meta.ValueErrorf(key("suffix"), strconv.Quote(o.Suffix), "every overlay needs a DNS suffix of its own, e.g. \"lab\"")
		}
		if len(o.Servers) == 0 {
			return meta.Errorf(key("servers"), "overlay %q has no servers: give its ring's, e.g. servers = [\"198.19.0.1:5610\"]", suffix)
		}
		if !o.Pool4.IsValid() || !o.Pool4.Addr().Is4() {
			return meta.Errorf(key("pool4"), "overlay %q needs an IPv4 pool of its own, e.g. pool4 = \"100.96.0.0/12\"", suffix)
		}
		if !validPool6(o.Pool6) {
			return meta.ValueErrorf(key("pool6"), strconv.Quote(o.Pool6), "want an IPv6 range \"IP/BITS\" or \"off\"")
		}
	}
	return nil
}

// inDir is p, or p in the state directory when p is a relative path.
func (s *stateFlags) inDir(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.dir, p)
}

// configs returns the primary overlay's configuration (config) followed by
// one per [[overlay]] of the --config file, checked together.
func (a *proxyArgs) configs() ([]proxy.Config, error) {
	primary, err := a.config()
	if err != nil {
		return nil, err
	}
	cfgs := []proxy.Config{primary}
	for i, o := range a.file.Overlay {
		c, err := a.overlayConfig(primary, i, o)
		if err != nil {
			return nil, err
		}
		cfgs = append(cfgs, c)
	}
	if len(cfgs) > 1 {
		return cfgs, a.fileError(overlays.Check(cfgs))
	}
	return cfgs, nil
}

// overlayConfig is [[overlay]] number i: the primary's settings but for its
// own suffix, servers, pools, identity, book, state and listening address.
func (a *proxyArgs) overlayConfig(primary proxy.Config, i int, o overlayFile) (proxy.Config, error) {
	meta := a.file.meta
	c := primary
	c.Suffix = strings.ToLower(strings.Trim(o.Suffix, "."))
	c.Servers, c.Pool4, c.Pool6, c.ListenAddr = o.Servers, o.Pool4, netip.Prefix{}, o.Listen
	if o.Pool6 != "" && o.Pool6 != "off" {
		c.Pool6 = netip.MustParsePrefix(o.Pool6) // checkOverlayFiles parsed it
	}
	if o.Identity != "" {
		ident, err := identity.Load(a.state.inDir(o.Identity))
		if err != nil {
			return c, meta.ValueErrorf([]string{"overlay", strconv.Itoa(i), "identity"}, strconv.Quote(o.Identity),
				"%v (create it with: i3net id --state-dir %s --file %s)", stateError(err), a.state.dir, o.Identity)
		}
		c.Identity = ident
	}
	c.BookPath = filepath.Join(a.state.dir, "book."+c.Suffix)
	if o.Book != "" {
		c.BookPath = a.state.inDir(o.Book)
	}
	c.StatePath = filepath.Join(a.state.dir, "proxy-state."+c.Suffix+".json")
	c.Rules, c.Middlebox, c.PublishPath, c.Reserved, c.Upstreams = nil, "", "", nil, nil
	c.Logger = primary.Logger.With("overlay", c.Suffix)
	return c, nil
}

// fileError points a *overlays.ConfigError at its [[overlay]] in the file.
func (a *proxyArgs) fileError(err error) error {
	var ce *overlays.ConfigError
	if !errors.As(err, &ce) || ce.Overlay == 0 {
		return err
	}
	key := ce.Key
	switch key {
	case "state":
		key = "suffix" // the state file is named after the suffix
	case "userspace":
		return usageErrorf("%s: [[overlay]] %q: %s", a.configFile, ce.Suffix, ce.Msg)
	}
	return a.file.meta.ValueErrorf([]string{"overlay", strconv.Itoa(ce.Overlay - 1), key}, ce.Value, "%s", ce.Msg)
}

// runOverlays runs several overlays on one tun device.
func (a *proxyArgs) runOverlays(ctx context.Context, cfgs []proxy.Config) error {
	g, err := overlays.Open(cfgs)
	if errors.Is(err, tundev.ErrPermission) {
		return fmt.Errorf("%w: several overlays need the tun device (root or CAP_NET_ADMIN); userspace mode serves one overlay: "+
			"drop the [[overlay]] tables of %s to run without root", err, a.configFile)
	}
	if err != nil {
		return a.fileError(err)
	}
	a.applyProcs(len(cfgs), false, cfgs[0].Logger)
	st := g.Primary().Status()
	fmt.Fprintf(Stdout, "i3net proxy up: this host is %s (%s) in .%s, DNS on %s; status: i3net status --state-dir %s\n",
		st.Self.Addr4, st.Self.ID[:8], st.Self.Suffix, st.Self.DNS, a.state.dir)
	for i, o := range st.Overlays {
		fmt.Fprintf(Stdout, "  and %s (%s) in .%s, via %v; its book: i3net book --book %s add NAME KEY\n",
			o.Self.Addr4, o.Self.ID[:8], o.Self.Suffix, o.Servers, cfgs[i+1].BookPath)
	}
	return g.Run(ctx)
}
