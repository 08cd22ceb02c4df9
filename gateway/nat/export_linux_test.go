package nat

// release closes the netlink socket and settings files without touching the
// kernel: what a gateway process that dies does.
func (r *Rules) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	for _, s := range r.settings {
		s.file.Close()
	}
	r.conn.CloseLasting()
}
