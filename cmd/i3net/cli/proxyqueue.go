package cli

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/i3net/i3net/proxy"
)

// The proxy's inbound queue limit (CoDel on the wait in its overlay socket;
// docs/proxy.md; its measurements in docs/benchmarks.md, "The queue limit"): --queue-target, or queue_target
// in the --config file; the interval is 20 times the target.

// queueIntervalPerTarget is the interval's multiple of the target (CoDel's
// 5 ms and 100 ms).
const queueIntervalPerTarget = 20

// optDuration is a duration flag that knows whether it was given.
type optDuration struct {
	d   time.Duration
	set bool
}

func (o *optDuration) String() string {
	if o == nil || !o.set {
		return ""
	}
	return o.d.String()
}

func (o *optDuration) Set(s string) error {
	if strings.TrimSpace(s) == "0" { // off: no unit needed
		o.d, o.set = 0, true
		return nil
	}
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	if d < 0 {
		return fmt.Errorf("%v is negative: give a duration such as 1ms, or 0", d)
	}
	o.d, o.set = d, true
	return nil
}

// addQueueFlags defines --queue-target on fs.
func (a *proxyArgs) addQueueFlags(fs *flag.FlagSet) {
	fs.Var(&a.queueTarget, "queue-target", "the longest standing queue (a `DURATION`) of packets from the overlay the proxy lets build in its socket "+
		"before it marks (ECN) or drops packets so that senders slow down (default "+proxy.DefaultQueueTarget.String()+
		", or queue_target in the --config file; 0 turns the limit off)")
}

// fileQueue takes the configuration file's queue_target; the flag wins.
func (a *proxyArgs) fileQueue(f proxyFile) {
	if !a.queueTarget.set && f.QueueTarget != nil {
		a.queueTarget = optDuration{d: *f.QueueTarget, set: true}
	}
}

// applyQueue sets cfg's queue limit from the flag and the file.
func (a *proxyArgs) applyQueue(cfg *proxy.Config) {
	if !a.queueTarget.set {
		return
	}
	cfg.QueueTarget = a.queueTarget.d
	cfg.QueueInterval = queueIntervalPerTarget * a.queueTarget.d
	if a.queueTarget.d == 0 {
		cfg.QueueTarget = -1 // off
	}
}
