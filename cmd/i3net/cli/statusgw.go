package cli

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/i3net/i3net/proxy"
)

// printRules shows the name rules, each gateway's state and the hosts
// reached through it.
func printRules(st proxy.Status) {
	if len(st.Rules) == 0 {
		return
	}
	fmt.Fprintln(Stdout)
	tw := tabwriter.NewWriter(Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tACTION\tGATEWAY\tSTATE\tFLOWS")
	for _, r := range st.Rules {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", r.Match, r.Action, dash(r.Via), dash(r.State), r.Flows)
	}
	tw.Flush()
	for _, p := range st.Peers {
		if len(p.Targets) == 0 {
			continue
		}
		fmt.Fprintf(Stdout, "# through %s:\n", p.Name)
		tw := tabwriter.NewWriter(Stdout, 0, 8, 2, ' ', 0)
		for _, t := range p.Targets {
			fmt.Fprintf(tw, "  %s\t%s\t→ %s\t%d pkts out\t%d pkts in\t%s ago\n", dash(t.Name), t.Addr, t.Real,
				t.TxPackets, t.RxPackets, time.Since(t.LastUse).Round(time.Second))
		}
		tw.Flush()
	}
}

// printGateway shows what a gateway serves and its counters.
func printGateway(g *proxy.GatewayStatus) {
	if g == nil {
		return
	}
	fmt.Fprintf(Stdout, "\n# gateway: serves names %s, addresses %s; resolvers %s",
		strings.Join(g.ServeNames, " "), strings.Join(g.ServeCIDRs, " "), strings.Join(g.Resolvers, " "))
	if g.Anycast != "" {
		fmt.Fprintf(Stdout, "; anycast member %q", g.Anycast)
	}
	fmt.Fprintln(Stdout)
	printCounters(g.Counters)
}

// printCounters shows counters on one line, sorted by name.
func printCounters(c map[string]uint64) {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, c[k]))
	}
	fmt.Fprintf(Stdout, "# %s\n", strings.Join(parts, ", "))
}

// printAlerts shows the middleboxes' IDS alerts, the newest last, and which
// peers' sessions go through a middlebox.
func printAlerts(st proxy.Status) {
	for _, p := range st.Peers {
		if p.Middlebox != "" {
			fmt.Fprintf(Stdout, "# %s: through middlebox %s\n", p.Name, p.Middlebox)
		}
	}
	if len(st.Alerts) == 0 {
		return
	}
	fmt.Fprintf(Stdout, "\n# IDS alerts (%d, newest last):\n", len(st.Alerts))
	for _, a := range st.Alerts {
		fmt.Fprintf(Stdout, "  %s  %s  %q  %s %s → %s\n", a.Time.Format("15:04:05"), a.Middlebox, a.Signature, a.Proto, a.Src, a.Dst)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
