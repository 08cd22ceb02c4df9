package nat

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// Rules is an installed table and the forwarding settings Install changed.
// Its methods may be called from any goroutine.
type Rules struct {
	cfg Config

	mu       sync.Mutex
	conn     *nftables.Conn // a lasting netlink socket, in Install's namespace
	settings []setting
	closed   bool
}

// Install loads the gateway's table into the kernel, replacing any table of
// the same name in one netlink batch (conntrack state, and with it every
// flow and NAT mapping, survives), and turns on IPv4 forwarding, and IPv6
// forwarding if a pool is IPv6, in the network namespace of the calling
// thread. Without the rights to do so its error wraps ErrNeedsNetAdmin.
//
// A gateway that restarts calls Install again and closes only the newest
// Rules: Close of an earlier one would delete the table the later Install
// loaded.
//
// Two things on the host are the deployer's: another table's forward chain
// with policy drop still drops what this table accepts (nftables asks every
// base chain), and with IPv6 forwarding on, Linux ignores router
// advertisements on interfaces whose accept_ra is 1, so a gateway that
// takes its own IPv6 address from SLAAC needs accept_ra=2 on its uplink.
func Install(cfg Config) (*Rules, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	conn, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return nil, fmt.Errorf("nat: open a netlink socket to nftables: %w", err)
	}
	addRuleset(conn, cfg)
	if err := conn.Flush(); err != nil {
		conn.CloseLasting()
		return nil, installError(fmt.Sprintf("load table inet %s", cfg.Table), err)
	}
	settings, err := enableForwarding(hasIPv6(cfg.Pools))
	if err != nil {
		conn.DelTable(table(cfg))
		err = errors.Join(err, conn.Flush())
		conn.CloseLasting()
		return nil, installError("turn forwarding on", err)
	}
	return &Rules{cfg: cfg, conn: conn, settings: settings}, nil
}

// installError wraps err from step, saying when the process lacks the rights.
func installError(step string, err error) error {
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("nat: %w (%s: %v)", ErrNeedsNetAdmin, step, err)
	}
	return fmt.Errorf("nat: %s: %w", step, err)
}

// Table returns the name of the installed nftables table.
func (r *Rules) Table() string { return r.cfg.Table }

// Counters reads the table's named counters from the kernel.
func (r *Rules) Counters() (Counters, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return Counters{}, fmt.Errorf("nat: counters of table inet %s: rules closed", r.cfg.Table)
	}
	objs, err := r.conn.GetNamedObjects(table(r.cfg))
	if err != nil {
		return Counters{}, fmt.Errorf("nat: counters of table inet %s: %w", r.cfg.Table, err)
	}
	var c Counters
	found := 0
	for _, o := range objs {
		named, ok := o.(*nftables.NamedObj)
		if !ok || named.Type != nftables.ObjTypeCounter {
			continue
		}
		counter, ok := named.Obj.(*expr.Counter)
		if !ok {
			continue
		}
		switch named.Name {
		case counterServed:
			c.Served, found = counter.Packets, found+1
		case counterRefused:
			c.Refused, found = counter.Packets, found+1
		case counterUnsolicited:
			c.Unsolicited, found = counter.Packets, found+1
		}
	}
	if found != 3 {
		return c, fmt.Errorf("nat: table inet %s holds %d of its 3 counters: was it changed by hand?", r.cfg.Table, found)
	}
	return c, nil
}

// Close puts the forwarding settings back as Install found them and leaves
// the table in place, so that a gateway started again keeps its flows: the
// kernel translates the flows' existing NAT bindings only while a NAT chain
// is registered in the namespace, and without one a reply from the network
// meets no socket at the gateway's address and is answered with a reset
// (TestStopStartKeepsFlow). With forwarding off the table carries nothing.
// Remove deletes it too. Later calls return nil.
func (r *Rules) Close() error {
	return r.close(false)
}

// Remove is Close, and deletes the table too: for a gateway that is gone
// for good (its flows' NAT bindings stop being translated).
func (r *Rules) Remove() error {
	return r.close(true)
}

func (r *Rules) close(remove bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	var errs []error
	if remove {
		r.conn.DelTable(table(r.cfg))
		if err := r.conn.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("delete table inet %s: %w", r.cfg.Table, err))
		}
	}
	if err := restore(r.settings); err != nil {
		errs = append(errs, err)
	}
	if err := r.conn.CloseLasting(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("nat: close: %w", err)
	}
	return nil
}
