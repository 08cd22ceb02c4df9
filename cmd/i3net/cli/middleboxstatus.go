package cli

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/i3net/i3net/proxy"
)

// printMiddlebox shows a middlebox's status: itself, its overlay, one line
// per host it serves, its counters.
func printMiddlebox(st proxy.Status) {
	mb := st.Middlebox
	fmt.Fprintf(Stdout, "# this middlebox: id %s…  via %v from %v\n", st.Self.ID[:min(8, len(st.Self.ID))], st.Servers, st.Local)
	if line := overlayLine(st); line != "" {
		fmt.Fprintln(Stdout, line)
	}
	ids, eve := "none", "none"
	if mb.IDSTun != "" {
		ids = mb.IDSTun
	}
	if mb.EveJSON != "" {
		eve = mb.EveJSON
	}
	fmt.Fprintf(Stdout, "# IDS device %s, alerts from %s, %d address pairs known", ids, eve, mb.Flows)
	if mb.Anycast != "" {
		fmt.Fprintf(Stdout, "; anycast member %q (byte %d)", mb.Anycast, mb.Member)
	}
	fmt.Fprintln(Stdout)
	tw := tabwriter.NewWriter(Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tID\tTRIGGER\tSTATE\tFORWARDED\tTO IDS\tALERTS")
	for _, h := range mb.Hosts {
		c := h.Counters
		fmt.Fprintf(tw, "%s\t%s…\t…%s\t%s\t%d pkts %s\t%d pkts\t%d\n", h.Name, h.ID[:min(8, len(h.ID))],
			h.Trigger[max(0, len(h.Trigger)-8):], h.State, c["forwarded"], humanBytes(c["forwarded_bytes"]), c["to_ids"], c["alerts_sent"])
	}
	tw.Flush()
	for _, h := range mb.Hosts {
		if h.Error != "" {
			fmt.Fprintf(Stdout, "# %s: %s\n", h.Name, h.Error)
		}
	}
	fmt.Fprintf(Stdout, "# %s\n", counterLine(st.Counters))
}

// mainCounters are the middlebox's counters always shown.
var mainCounters = []string{"forwarded", "to_ids", "alerts_sent", "alerts_unmatched", "drop_unknown_host", "drop_malformed"}

// counterLine writes the main counters, then the others that are not zero,
// in name order.
func counterLine(cs map[string]uint64) string {
	var parts []string
	for _, k := range mainCounters {
		parts = append(parts, fmt.Sprintf("%s %d", k, cs[k]))
	}
	keys := make([]string, 0, len(cs))
	for k, v := range cs {
		if v != 0 && !slices.Contains(mainCounters, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, cs[k]))
	}
	return strings.Join(parts, ", ")
}
