// Package resolved hooks the overlay's DNS into systemd-resolved without
// changing anything else of the host's resolver: over D-Bus it gives the
// proxy's tun link the proxy's DNS service address as its DNS server and the
// overlay suffixes as routing-only domains ("~i3", and "~lab" for a second
// overlay), and takes the link off the
// default route, so that only overlay names reach the proxy
// (org.freedesktop.resolve1.Manager: SetLinkDNS, SetLinkDomains,
// SetLinkDefaultRoute). Revert (RevertLink) undoes it on exit; resolved also
// forgets a link's settings when the link goes, so a crash leaves nothing.
//
//	if ok, _ := resolved.Running(); ok {
//		reg, err := resolved.Register(ifindex, []netip.Addr{dns4}, "i3")
//		defer reg.Revert()
//	}
//
// The bus is the system bus (DBUS_SYSTEM_BUS_ADDRESS overrides its address,
// as for every D-Bus client). Resolved lets root (CAP_NET_ADMIN) change links
// without asking polkit.
package resolved
