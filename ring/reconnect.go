package ring

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"
)

// Reconnecting (Config.ReconnectInterval): the ring remembers each member
// that failed without leaving, with its gossip address and the time of its
// failure, and every interval joins one of them, picked at random, until it
// is back or ReconnectTimeout has passed. This is Serf's reconnect, which
// memberlist leaves to its users. It heals a partition (each half joins a
// member of the other and their states merge) and finds a restarted server
// that joined nobody. A member that left is not tried: it said goodbye.

// failedMember is a member declared dead, to reach again.
type failedMember struct {
	gossip netip.AddrPort
	at     time.Time
}

// noteFailed records that member name, gossiping at gossip, failed (or,
// when left, left) at now.
func (r *Ring) noteFailed(name string, gossip netip.AddrPort, left bool, now time.Time) {
	r.failedMu.Lock()
	defer r.failedMu.Unlock()
	if left || !gossip.IsValid() {
		delete(r.failed, name)
		return
	}
	if r.failed == nil {
		r.failed = map[string]failedMember{}
	}
	r.failed[name] = failedMember{gossip: gossip, at: now}
}

// noteAlive forgets member name's failure: it is back.
func (r *Ring) noteAlive(name string) {
	r.failedMu.Lock()
	defer r.failedMu.Unlock()
	delete(r.failed, name)
}

// reconnectTarget forgets the failures older than ReconnectTimeout and
// returns the gossip address of one of the other failed members, picked by
// pick(n) (an index below n), or the zero address when there is none.
func (r *Ring) reconnectTarget(now time.Time, pick func(n int) int) netip.AddrPort {
	r.failedMu.Lock()
	defer r.failedMu.Unlock()
	timeout := r.cfg.ReconnectTimeout
	if timeout <= 0 {
		timeout = defaultReconnectTimeout
	}
	var addrs []netip.AddrPort
	for name, f := range r.failed {
		if now.Sub(f.at) > timeout {
			delete(r.failed, name)
			continue
		}
		addrs = append(addrs, f.gossip)
	}
	if len(addrs) == 0 {
		return netip.AddrPort{}
	}
	// Map order is random, but not uniformly so: pick among a sorted list.
	slices.SortFunc(addrs, netip.AddrPort.Compare)
	return addrs[pick(len(addrs))]
}

// reconnectLoop tries one failed member every ReconnectInterval until the
// ring shuts down (a join under way then ends by itself, failing: Shutdown
// does not wait for it, which may take memberlist's TCP timeout).
func (r *Ring) reconnectLoop() {
	every := r.cfg.ReconnectInterval
	if every <= 0 {
		every = defaultReconnectInterval
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-tick.C:
		}
		to := r.reconnectTarget(time.Now(), rand.IntN)
		if !to.IsValid() {
			continue
		}
		if _, err := r.ml.Join([]string{to.String()}); err != nil {
			r.log.Debug("reconnect to a failed member", "gossip", to, "err", err)
			continue
		}
		r.log.Info("reconnected to a member declared dead", "gossip", to)
	}
}
