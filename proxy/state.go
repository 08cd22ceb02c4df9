package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/internal/atomicfile"
	"github.com/i3net/i3net/proxy/vaddr"
)

// stateVersion is the version of the state file's layout.
const stateVersion = 1

// savedState is what the proxy keeps across restarts (§7.2): the mappings, so
// programs keep their addresses, and the private ids, so peers keep reaching
// this host on the triggers they know.
type savedState struct {
	Version  int           `json:"version"`
	Mappings vaddr.State   `json:"mappings"`
	Peers    []savedPeer   `json:"peers"`
	Targets  []savedTarget `json:"targets,omitempty"`
}

// savedTarget is a host reached through a gateway (target.go): the virtual
// address programs here use for it, so their connections survive a restart.
type savedTarget struct {
	Gateway identity.PublicKey `json:"gateway"`
	Real    netip.Addr         `json:"real"`
	Addr    netip.Addr         `json:"addr"`
	Name    string             `json:"name,omitempty"`
	LastUse time.Time          `json:"last_use"`
}

type savedPeer struct {
	Key        identity.PublicKey `json:"key"`
	Name       string             `json:"name,omitempty"`
	LocalPriv  id.ID              `json:"local_private_id"`
	RemotePriv *id.ID             `json:"remote_private_id,omitempty"`
	Plaintext  bool               `json:"plaintext,omitempty"`
	Shortcut   bool               `json:"shortcut,omitempty"`
}

// save writes the state atomically (temp file, rename).
func (px *Proxy) save() error {
	if px.cfg.StatePath == "" {
		return nil
	}
	data, err := json.MarshalIndent(px.peers.state(px.clk.Now()), "", "  ")
	if err != nil {
		return fmt.Errorf("proxy: encode state: %w", err)
	}
	return writeAtomic(px.cfg.StatePath, data, 0o600)
}

// state returns what save writes: every peer's mapping and private ids.
func (r *registry) state(now time.Time) savedState {
	ps := r.all()
	ms := make([]vaddr.Mapping, 0, len(ps))
	st := savedState{Version: stateVersion}
	for _, p := range ps {
		if p.anonymous || p.anonymousIn {
			continue // its keys are ephemeral: a restart starts afresh
		}
		ms = append(ms, p.mapping())
		sp := savedPeer{Key: p.key, Name: p.name, LocalPriv: p.local(), Plaintext: p.plaintext, Shortcut: p.shortcut}
		if r, ok := p.remote(); ok {
			sp.RemotePriv = &r
		}
		st.Peers = append(st.Peers, sp)
	}
	st.Mappings = r.alloc.State(ms, now)
	for _, t := range r.allTargets() {
		addr := t.local4
		if !addr.IsValid() {
			addr = t.local6
		}
		st.Targets = append(st.Targets, savedTarget{Gateway: t.via.key, Real: t.real, Addr: addr, Name: t.name,
			LastUse: time.Unix(0, t.lastUse.Load()).UTC()})
	}
	return st
}

// restore reads the saved state, if any. A state that does not fit (another
// identity, other pools, a damaged file) is set aside with a warning: the proxy
// starts afresh rather than refusing to start.
func (px *Proxy) restore() error {
	if px.cfg.StatePath == "" {
		return nil
	}
	data, err := os.ReadFile(px.cfg.StatePath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("proxy: read state: %w", err)
	}
	var st savedState
	err = json.Unmarshal(data, &st)
	if err == nil && st.Version != stateVersion {
		err = fmt.Errorf("state version %d, want %d", st.Version, stateVersion)
	}
	var n int
	if err == nil {
		st.Peers = px.identifiedOnly(st.Peers)
		n, err = px.peers.restore(st, px.clk.Now())
	}
	if err != nil {
		bad := px.cfg.StatePath + ".bad"
		os.Rename(px.cfg.StatePath, bad)
		px.log.Warn("saved state not used; starting afresh", "file", px.cfg.StatePath, "moved_to", bad, "err", err)
		return nil
	}
	if n > 0 {
		px.log.Info("restored mappings from the saved state", "peers", n, "file", px.cfg.StatePath)
	}
	return nil
}

// identifiedOnly returns the saved peers but those the book or the rules
// now say are reached anonymously: their sessions must start afresh under
// ephemeral keys, not resume as this host.
func (px *Proxy) identifiedOnly(ps []savedPeer) []savedPeer {
	b := px.book.Book()
	out := ps[:0]
	for _, sp := range ps {
		if names := b.Names(sp.Key); len(names) > 0 {
			if e, ok := b.Lookup(names[0]); ok && px.anonymousFor(e.Name, e.Anonymous) {
				continue
			}
		}
		out = append(out, sp)
	}
	return out
}

// restore registers the peers of st whose mappings were used less than TO
// before now, and returns how many; it changes nothing when st does not fit.
func (r *registry) restore(st savedState, now time.Time) (int, error) {
	ms, err := r.alloc.Restore(st.Mappings, now, r.to, maxPeers)
	if err != nil {
		return 0, err
	}
	live := make(map[id.ID]vaddr.Mapping, len(ms))
	for _, m := range ms {
		live[m.Peer] = m
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, sp := range st.Peers {
		m, ok := live[sp.Key.ID()]
		if !ok || sp.LocalPriv.IsZero() || r.byKey[sp.Key] != nil || r.byLocal.get(sp.LocalPriv) != nil {
			continue // expired while the proxy was down, or damaged
		}
		m.Name = sp.Name
		p := newPeer(sp.Key, m, sp.LocalPriv)
		p.lastUse.Store(m.LastUse.UnixNano())
		p.plaintext, p.shortcut = sp.Plaintext, sp.Shortcut
		if sp.RemotePriv != nil {
			x := *sp.RemotePriv
			p.remotePriv.Store(&x)
		}
		r.addLocked(p)
		n++
	}
	for _, st := range st.Targets {
		r.restoreTargetLocked(st, now)
	}
	return n, nil
}

// restoreTargetLocked registers a saved target again, with its address, if
// its gateway was restored, it was used less than TO before now, and its
// address is still a free one of the pool of its family; r.mu is held.
func (r *registry) restoreTargetLocked(st savedTarget, now time.Time) {
	gw := r.byKey[st.Gateway]
	if gw == nil || now.Sub(st.LastUse) >= r.to || !st.Real.IsValid() || st.Real.Is4() != st.Addr.Is4() {
		return
	}
	pool4, pool6 := r.alloc.Pools()
	pool := pool4
	if st.Addr.Is6() {
		pool = pool6
	}
	own4, own6 := r.alloc.Self()
	k := targetKey{gw: gw.pubID, real: st.Real.Unmap()}
	if !pool.IsValid() || !pool.Contains(st.Addr) || st.Addr == own4 || st.Addr == own6 ||
		st.Addr == vaddr.ServiceAddr(pool) || r.taken(st.Addr) || r.byTarget[k] != nil {
		return
	}
	var m vaddr.Mapping
	m.Name, m.V4, m.V6 = st.Name, st.Addr, st.Addr
	t := newTarget(gw, k.real, m)
	t.lastUse.Store(st.LastUse.UnixNano())
	r.byTarget[k] = t
	r.putAddrLocked(t)
	gw.targets.with(k.real, t)
}

// writeAtomic replaces path with data, creating its directory if needed.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	if err := atomicfile.Write(path, data, perm, atomicfile.Options{MkdirPerm: 0o700}); err != nil {
		return fmt.Errorf("proxy: save state: %w", err)
	}
	return nil
}
