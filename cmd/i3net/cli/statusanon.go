package cli

import (
	"fmt"
	"time"

	"github.com/i3net/i3net/proxy"
)

// anonLine is the "# " note of status on a peer this host reaches
// anonymously: the session's relay, age and next rotation; "" for others.
func anonLine(p proxy.PeerStatus) string {
	if p.AnonKey == "" {
		return ""
	}
	next := time.Until(p.NextRotation).Round(time.Second)
	when := "at its next pause (due)"
	if next > 0 {
		when = "in " + next.String() + ", at a pause"
	}
	return fmt.Sprintf("# %s: anonymous session: relay %s, %s old, next rotation %s; seen as %s, key %s",
		p.Name, p.Relay, p.SessionAge.Round(time.Second), when, p.AnonAddr4, p.AnonKey)
}
