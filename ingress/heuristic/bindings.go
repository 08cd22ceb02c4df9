package heuristic

import (
	"container/list"
	"time"
)

// lookup returns the binding of key, or nil if there is none or it has idled
// out (then it is dropped).
func (t *Table) lookup(key bindingKey, now time.Time) *binding {
	e := t.bindings[key]
	if e == nil {
		return nil
	}
	b := e.Value.(*binding)
	if now.Sub(b.used) > t.bindingTimeout {
		t.unbind(e)
		t.stats.Idle++
		return nil
	}
	return b
}

// bind makes or changes the binding of key to name, used now; a new binding
// beyond MaxBindings evicts the least recently used one.
func (t *Table) bind(key bindingKey, name string, now time.Time) {
	t.stats.Bound++
	if e := t.bindings[key]; e != nil {
		b := e.Value.(*binding)
		b.name, b.used = name, now
		t.lru.MoveToFront(e)
		return
	}
	for t.lru.Len() >= t.maxBindings {
		t.unbind(t.lru.Back())
		t.stats.Evicted++
	}
	t.bindings[key] = t.lru.PushFront(&binding{key: key, name: name, used: now})
}

// unbind drops the binding in e.
func (t *Table) unbind(e *list.Element) {
	delete(t.bindings, e.Value.(*binding).key)
	t.lru.Remove(e)
}

// expireBindings drops the bindings that have idled out, least recently used
// first: each call costs one check plus one per binding dropped.
func (t *Table) expireBindings(now time.Time) {
	for e := t.lru.Back(); e != nil; e = t.lru.Back() {
		if now.Sub(e.Value.(*binding).used) <= t.bindingTimeout {
			return
		}
		t.unbind(e)
		t.stats.Idle++
	}
}
