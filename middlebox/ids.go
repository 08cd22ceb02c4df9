package middlebox

import (
	"errors"
	"fmt"
	"os"

	"github.com/i3net/i3net/internal/tundev"
)

// openIDS opens the IDS device: Options.IDS, or the tun device
// Config.IDSTun, made with no address and closed to the kernel's routing
// (isolate), so that what is written into it only reaches the IDS.
func (m *Middlebox) openIDS() error {
	switch {
	case m.opt.IDS != nil:
		m.ids = m.opt.IDS
	case m.cfg.IDSTun != "":
		dev, err := tundev.Create(m.cfg.IDSTun, m.cfg.IDSMTU)
		if errors.Is(err, tundev.ErrInUse) {
			return fmt.Errorf("middlebox: %w: is another middlebox running in this network namespace? Stop it, or set another ids_tun", err)
		}
		if err != nil {
			return fmt.Errorf("middlebox: IDS device: %w", err)
		}
		m.ids = dev
		if err := isolate(m.cfg.IDSTun); err != nil {
			m.log.Warn("IDS device: the kernel may route what it reads there", "tun", m.cfg.IDSTun, "err", err)
		}
	default:
		return nil
	}
	m.fwd.needIDSBufs()
	return nil
}

// closeIDS closes the IDS device (Options.IDS too: the middlebox owns it).
func (m *Middlebox) closeIDS() {
	if m.ids != nil {
		m.ids.Close()
	}
}

// isolate keeps the kernel from acting on the packets written into tun
// device name (they are copies for the IDS): no IPv4 forwarding from it,
// strict reverse-path filtering (a packet whose source is not routed into
// the device is dropped, so none reaches a local socket), no IPv6 on it.
// The IDS reads the packets before all this (af-packet, pcap).
func isolate(name string) error {
	var errs []error
	for _, s := range []struct{ path, value string }{
		{"/proc/sys/net/ipv4/conf/" + name + "/forwarding", "0"},
		{"/proc/sys/net/ipv4/conf/" + name + "/rp_filter", "1"},
		{"/proc/sys/net/ipv4/conf/" + name + "/accept_local", "0"},
		{"/proc/sys/net/ipv6/conf/" + name + "/disable_ipv6", "1"},
	} {
		if err := os.WriteFile(s.path, []byte(s.value), 0o644); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
