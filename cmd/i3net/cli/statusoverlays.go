package cli

import (
	"fmt"
	"net/netip"

	"github.com/i3net/i3net/proxy"
)

// overlayHeader heads one overlay's part of the status when the proxy
// serves several (proxy.Status.Overlays): "# overlay lab (.lab): servers
// [...], first hop ..., NAT ...".
func overlayHeader(st proxy.Status) string {
	line := fmt.Sprintf("# overlay %s (.%s): servers %v", st.Self.Suffix, st.Self.Suffix, st.Servers)
	if st.FirstHop.IsValid() {
		line += fmt.Sprintf(", first hop %v", st.FirstHop)
	} else {
		line += ", no first hop (no server answers)"
	}
	switch {
	case !st.NAT.Known:
		line += ", NAT unknown yet"
	case st.NAT.Behind:
		line += fmt.Sprintf(", NAT: seen as %v", st.NAT.Observed)
	default:
		line += ", no NAT"
	}
	return line
}

// printOverlays prints each further overlay under its header.
func printOverlays(st proxy.Status) {
	for _, o := range st.Overlays {
		fmt.Fprintln(Stdout)
		fmt.Fprintln(Stdout, overlayHeader(o))
		printStatus(o)
	}
}

// addrText is a, or "-" for none (no IPv6: --pool6 off).
func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return "-"
	}
	return a.String()
}
