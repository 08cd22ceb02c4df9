// Package middlebox is `i3net middlebox`: a role on the path of the sessions
// of the hosts that impose it (paper §6.4). It holds one trigger per host it
// serves, under its own public id (pass.HostTrigger); a host sends each frame
// of such a session to [that trigger, next id], and the middlebox appends the
// pass tag it shares with the host (pass.Tagger: the host accepts only frames
// that carry it, so the middlebox cannot be skipped) and sends the frame on
// to the rest of the stack. It writes the IP packet of every plaintext frame
// into a tun device an IDS (Suricata) reads live, remembers which host each
// address pair belongs to, follows the IDS's eve.json and sends each alert to
// the host whose flow raised it, authenticated with the pass key.
// docs/middlebox.md says how to deploy it and what it can and cannot do.
//
// Members of an anycast group share the identity and differ in Config.Anycast
// (the last byte of their triggers): a host picks a member byte at random and
// the overlay delivers to the closest trigger; when a member dies its
// triggers lapse and the flows move to another.
//
// What it must not know: sessions' keys, names of the hosts' peers, the hosts'
// address books. It reads frames only as far as session.ParseFrame shows (a
// plaintext frame's IP packet) and judges none: what it cannot read it
// forwards tagged all the same.
//
// Performance rules: the forward path runs on the overlay client's receive
// goroutine (forward.go), allocates nothing in steady state, never logs, and
// never waits on the IDS: a failed tun write is counted. Frames are tagged
// into a fixed batch of buffers and sent with one SendBatch, and their IP
// packets written with one tun write, when the client's received batch ends.
package middlebox
