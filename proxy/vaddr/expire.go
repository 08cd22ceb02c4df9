package vaddr

// Expire removes the mappings unused for TO or longer and returns them, after
// calling OnExpire for each. The sweep timer calls it every SweepEvery; callers
// with SweepEvery zero call it themselves.
func (t *Table) Expire() []Mapping {
	now := t.clock.Now().UnixNano()
	limit := int64(t.cfg.TO)
	var gone []Mapping
	t.mu.Lock()
	for _, e := range t.byPeer {
		if now-e.last.Load() >= limit {
			gone = append(gone, e.mapping())
			t.deleteLocked(e)
		}
	}
	t.mu.Unlock()
	if t.cfg.OnExpire != nil {
		for _, m := range gone {
			t.cfg.OnExpire(m)
		}
	}
	return gone
}

// sweep runs Expire and re-arms the timer.
func (t *Table) sweep() {
	t.Expire()
	t.timerMu.Lock()
	defer t.timerMu.Unlock()
	if !t.closed && t.timer != nil {
		t.timer.Reset(t.cfg.SweepEvery)
	}
}
