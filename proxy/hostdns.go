package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/i3net/i3net/proxy/dns"
	"github.com/i3net/i3net/proxy/resolvconf"
	"github.com/i3net/i3net/proxy/resolved"
)

// dnsMode is the DNS mode the proxy uses: Config.DNSMode, with ModeAuto
// decided by dns.ChooseMode; no resolver file means the resolver is left
// alone unless resolved mode was asked for.
func (px *Proxy) dnsMode() (dns.Mode, error) {
	mode := px.cfg.DNSMode
	if px.cfg.ResolvConf == "" && (mode == dns.ModeAuto || mode == dns.ModeResolvConf) {
		return dns.ModeOff, nil
	}
	if mode != dns.ModeAuto {
		return mode, nil
	}
	mode, why, err := dns.ChooseMode(px.cfg.ResolvConf, resolved.Running)
	if err != nil {
		return mode, fmt.Errorf("proxy: choose the DNS mode: %w", err)
	}
	px.log.Info("DNS mode chosen", "mode", mode, "why", why)
	return mode, nil
}

// hookResolver hooks the host's resolver as the DNS mode says and returns the
// upstreams (Config.Upstreams, or else those the resolver had) and the search
// domains. Userspace mode only reads the resolver file.
func (px *Proxy) hookResolver() ([]netip.AddrPort, []string, error) {
	if px.cfg.Userspace {
		ups, search := px.readResolvConf(px.cfg.Upstreams)
		return ups, search, nil
	}
	mode, err := px.dnsMode()
	if err != nil {
		return nil, nil, err
	}
	switch mode {
	case dns.ModeResolvConf:
		return px.installResolvConf()
	case dns.ModeResolved:
		if err := px.registerResolved(); err != nil {
			return nil, nil, err
		}
		// Resolved's stub as the upstream cannot loop: the tun link is
		// not a default route, and only ~SUFFIX names go to the proxy.
		ups, search := px.readResolvConf(px.cfg.Upstreams)
		return ups, search, nil
	case dns.ModeOff:
		ups, search := px.readResolvConf(px.cfg.Upstreams)
		return ups, search, nil
	}
	return nil, nil, fmt.Errorf("proxy: DNS mode %v: choose auto, resolvconf, resolved or off", mode)
}

// installResolvConf points the resolver file at the proxy (ModeResolvConf),
// first putting back what a crashed run left.
func (px *Proxy) installResolvConf() ([]netip.AddrPort, []string, error) {
	backup := px.resolvBackup()
	if restored, err := resolvconf.RecoverAfterCrash(px.cfg.ResolvConf, backup); err != nil {
		return nil, nil, fmt.Errorf("proxy: restore the resolver a previous run left: %w", err)
	} else if restored {
		px.log.Warn("restored the resolver configuration a previous run left behind", "file", px.cfg.ResolvConf)
	}
	var search []string
	if data, err := os.ReadFile(px.cfg.ResolvConf); err == nil {
		search = resolvconf.Parse(data).Search
	}
	ups, err := resolvconf.Install(px.cfg.ResolvConf, backup, px.dns4, strings.Join(px.suffixes(), ", ."))
	if err != nil {
		return nil, nil, fmt.Errorf("proxy: point %s at the proxy: %w", px.cfg.ResolvConf, err)
	}
	px.resolvInstalled = true
	if len(px.cfg.Upstreams) > 0 {
		ups = px.cfg.Upstreams
	}
	return ups, search, nil
}

// registerResolved registers ~SUFFIX with the service addresses on the tun
// link with systemd-resolved (ModeResolved).
func (px *Proxy) registerResolved() error {
	if px.tun == nil {
		return errors.New("proxy: the resolved DNS mode needs a tun device")
	}
	name, err := px.tun.Name()
	if err != nil {
		return fmt.Errorf("proxy: resolved DNS mode: the tun device's name: %w", err)
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return fmt.Errorf("proxy: resolved DNS mode: link %s: %w", name, err)
	}
	servers := []netip.Addr{px.dns4}
	if px.dns6.IsValid() {
		servers = append(servers, px.dns6)
	}
	suffixes := px.suffixes()
	if px.resolvedLink, err = resolved.Register(ifi.Index, servers, suffixes...); err != nil {
		return fmt.Errorf("proxy: %w (to replace resolv.conf instead, choose the resolvconf DNS mode: --dns-mode resolvconf)", err)
	}
	px.log.Info("registered the overlay's names with systemd-resolved", "link", name, "domains", suffixes, "dns", servers)
	return nil
}

// suffixes are the DNS suffixes this proxy answers: its own, then those of
// the other overlays (Config.Also).
func (px *Proxy) suffixes() []string {
	out := []string{px.cfg.Suffix}
	for _, o := range px.cfg.Also {
		out = append(out, o.cfg.Suffix)
	}
	return out
}

// unhookResolver undoes hookResolver.
func (px *Proxy) unhookResolver() error {
	var errs []error
	if px.resolvInstalled {
		if err := resolvconf.Restore(px.cfg.ResolvConf, px.resolvBackup()); err != nil {
			errs = append(errs, fmt.Errorf("proxy: restore %s: %w", px.cfg.ResolvConf, err))
		}
		px.resolvInstalled = false
	}
	if px.resolvedLink != nil {
		if err := px.resolvedLink.Revert(); err != nil {
			errs = append(errs, fmt.Errorf("proxy: take the overlay's names back from systemd-resolved: %w", err))
		}
		px.resolvedLink = nil
	}
	return errors.Join(errs...)
}
