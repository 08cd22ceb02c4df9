package server

import (
	"bytes"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/wire"
)

// The trigger table: soft state keyed by the first 128 bits of trigger ids (all
// ids that can match one another share them), split into shards with a lock
// each so that the data path's lookups (read locks) and insertions (write
// locks) rarely meet. Within a key, triggers sit in a short slice: longest
// match, multicast and anycast are decided there. Expiry is exact at lookup
// time (a trigger past its time is ignored) and memory is reclaimed by a
// periodic sweep; there is no timer or goroutine per trigger.

// entry is one installed trigger.
type entry struct {
	id        id.ID
	prefixLen uint16
	flags     uint8
	key       [wire.KeyLen]byte
	ip        netip.AddrPort // IP target; invalid for a stack target
	stack     []id.ID        // stack target; never modified once stored
	expires   int64          // Unix nanoseconds
	owner     netip.Addr     // sourceKey of the inserter (MaxTriggersPerSource)
}

// target is where a matched trigger sends a packet: an IP address or a stack.
type target struct {
	ip    netip.AddrPort
	stack []id.ID
	flags uint8 // the trigger's flags (TriggerShortcut)
}

func (e *entry) sameTarget(t target) bool {
	if t.stack != nil || e.stack != nil {
		return slices.Equal(e.stack, t.stack) && !e.ip.IsValid() && !t.ip.IsValid()
	}
	return e.ip == t.ip
}

type shard struct {
	mu sync.RWMutex
	m  map[id.Key128][]entry
	_  [32]byte // keep shards' locks on separate cache lines
}

// table is the trigger table.
type table struct {
	shards       [numShards]shard
	count        atomic.Int64
	maxTriggers  int
	maxPerSource int

	srcMu     sync.Mutex
	perSource map[netip.Addr]int // triggers charged to each source
}

func newTable(maxTriggers, maxPerSource int) *table {
	t := &table{maxTriggers: maxTriggers, maxPerSource: maxPerSource, perSource: map[netip.Addr]int{}}
	for i := range t.shards {
		t.shards[i].m = map[id.Key128][]entry{}
	}
	return t
}

func (t *table) shard(k id.Key128) *shard { return &t.shards[k[15]&(numShards-1)] }

// len returns the number of triggers held, expired ones not yet swept included.
func (t *table) len() int { return int(t.count.Load()) }

// lookup finds the triggers a packet sent to x matches at time now: among the
// live triggers sharing x's first 128 bits whose prefix length x satisfies, the
// one with the longest common prefix wins (ties between different ids go to
// the smallest id), and every trigger with the winning id receives. Their
// targets are appended to dst, at most limit of them; excess counts the ones
// left out. ok is false when nothing matched.
func (t *table) lookup(x id.ID, now int64, dst []target, limit int) (win id.ID, _ []target, excess int, ok bool) {
	k := x.Key()
	sh := t.shard(k)
	sh.mu.RLock()
	b := sh.m[k]
	best := -1
	for i := range b {
		e := &b[i]
		if e.expires <= now {
			continue
		}
		n, match := id.Matches(x, e.id, int(e.prefixLen))
		if !match {
			continue
		}
		if n > best || (n == best && bytes.Compare(e.id[:], win[:]) < 0) {
			best, win = n, e.id
		}
	}
	if best >= 0 {
		for i := range b {
			if e := &b[i]; e.id == win && e.expires > now {
				if limit <= 0 {
					excess++
					continue
				}
				dst = append(dst, target{ip: e.ip, stack: e.stack, flags: e.flags})
				limit--
			}
		}
	}
	sh.mu.RUnlock()
	return win, dst, excess, best >= 0
}

// upsertResult is what upsert did.
type upsertResult uint8

const (
	upsertInstalled upsertResult = iota
	upsertRefreshed
	upsertTableFull
	upsertSourceLimit
)

// upsert installs e, or refreshes the trigger with e's id and target: its
// prefix length, flags, key, lifetime and owner become e's. A new entry gets
// its own copy of e.stack.
func (t *table) upsert(e entry, now int64) upsertResult {
	k := e.id.Key()
	sh := t.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b := sh.m[k]
	for i := range b {
		old := &b[i]
		if old.id != e.id || !old.sameTarget(target{ip: e.ip, stack: e.stack}) {
			continue
		}
		if old.owner != e.owner {
			if !t.charge(e.owner) {
				return upsertSourceLimit
			}
			t.uncharge(old.owner)
		}
		live := old.expires > now
		old.prefixLen, old.flags, old.key, old.expires, old.owner = e.prefixLen, e.flags, e.key, e.expires, e.owner
		if live {
			return upsertRefreshed
		}
		return upsertInstalled
	}
	if t.count.Load() >= int64(t.maxTriggers) {
		return upsertTableFull
	}
	if !t.charge(e.owner) {
		return upsertSourceLimit
	}
	e.stack = slices.Clone(e.stack) // the caller's may be a decoding buffer
	sh.m[k] = append(b, e)
	t.count.Add(1)
	return upsertInstalled
}

// remove deletes the trigger with id x and target tg; it reports whether there
// was one.
func (t *table) remove(x id.ID, tg target) bool {
	k := x.Key()
	sh := t.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b := sh.m[k]
	for i := range b {
		if b[i].id == x && b[i].sameTarget(tg) {
			t.uncharge(b[i].owner)
			t.count.Add(-1)
			b = slices.Delete(b, i, i+1)
			if len(b) == 0 {
				delete(sh.m, k)
			} else {
				sh.m[k] = b
			}
			return true
		}
	}
	return false
}

// expire removes the triggers whose time has passed at now and returns how
// many. It locks one shard at a time.
func (t *table) expire(now int64) int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for k, b := range sh.m {
			kept := b[:0]
			for _, e := range b {
				if e.expires > now {
					kept = append(kept, e)
					continue
				}
				t.uncharge(e.owner)
				n++
			}
			clear(b[len(kept):])
			if len(kept) == 0 {
				delete(sh.m, k)
			} else {
				sh.m[k] = kept
			}
		}
		sh.mu.Unlock()
	}
	t.count.Add(int64(-n))
	return n
}

// scan calls fn with every trigger of shard i (0..numShards-1), expired ones
// included, under the shard's read lock: fn must not use the table.
func (t *table) scan(i int, fn func(k id.Key128, e *entry)) {
	sh := &t.shards[i]
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	for k, b := range sh.m {
		for j := range b {
			fn(k, &b[j])
		}
	}
}

// charge counts one more trigger against source a; it reports false, changing
// nothing, when a is at its cap.
func (t *table) charge(a netip.Addr) bool {
	t.srcMu.Lock()
	defer t.srcMu.Unlock()
	if t.perSource[a] >= t.maxPerSource {
		return false
	}
	t.perSource[a]++
	return true
}

func (t *table) uncharge(a netip.Addr) {
	t.srcMu.Lock()
	defer t.srcMu.Unlock()
	if n := t.perSource[a]; n <= 1 {
		delete(t.perSource, a)
	} else {
		t.perSource[a] = n - 1
	}
}
