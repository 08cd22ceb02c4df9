package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/i3net/i3net/proxy"
)

// printIngress shows an ingress's zone, waypoints, the services published
// through it and its counters.
func printIngress(g *proxy.IngressStatus) {
	if g == nil {
		return
	}
	fmt.Fprintf(Stdout, "\n# ingress for zone %s: DNS on %s; waypoints %s; %d bindings, %d pending\n# listening on %s\n",
		g.Zone, strings.Join(g.DNS, " "), strings.Join(g.Waypoints, " "), g.Bindings, g.Pending, strings.Join(g.Listening, " "))
	if len(g.Published) == 0 {
		fmt.Fprintln(Stdout, "# nothing published yet (hosts in the book publish with: i3net publish add INGRESS NAME PORT)")
	} else {
		tw := tabwriter.NewWriter(Stdout, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "PUBLISHED\tPORT\tHOST\tPROXY PROTOCOL\tOFFERED")
		for _, p := range g.Published {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%v\t%s ago\n", p.Name, p.Port, p.Host, p.ProxyProtocol, p.Age)
		}
		tw.Flush()
	}
	printCounters(g.Counters)
}

// printPublished shows the services this host publishes and the newest
// clients ingresses brought it.
func printPublished(st proxy.Status) {
	if len(st.Published) > 0 {
		fmt.Fprintln(Stdout)
		tw := tabwriter.NewWriter(Stdout, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "PUBLISHED\tPORT\tINGRESS\tSTATE")
		for _, p := range st.Published {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", dash(p.FQDN), p.Port, p.Ingress, p.State)
		}
		tw.Flush()
	}
	if n := len(st.IngressFlows); n > 0 {
		fmt.Fprintf(Stdout, "# the newest clients ingresses brought (%d, newest last):\n", n)
		for _, f := range st.IngressFlows[max(0, n-10):] {
			fmt.Fprintf(Stdout, "  %s  %s → %s port %d via %s (seen here from port %d)\n",
				f.At.Format("15:04:05"), f.Client, f.Name, f.Port, f.Ingress, f.From)
		}
	}
}
