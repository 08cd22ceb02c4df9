package proxy

import "github.com/i3net/i3net/id"

// Cutting a peer off, and being cut off (paper §4.1): a host stops a peer
// from reaching it by dropping the private trigger it gave that peer. The
// blocking side is applyBook (proxy.go: the address book marks the peer
// blocked; its private trigger is removed, its mapping forgotten) and admit
// (handshake.go: a message 1 from a blocked key is refused and counted,
// peers_refused).
//
// This file is the other side. A peer whose private trigger is gone, because
// it blocked this host or lost its triggers, makes the server answer this
// host's packets with TRIGGER_NOT_PRESENT for the peer's private id. The
// session on that id leads nowhere, so it is dropped and a new handshake
// starts at once: refused while the peer blocks this host (the handshake
// then fails, as for any unreachable peer, and the mapping stays), accepted
// again once it unblocks it: the flow's next packet after the retry back-off
// handshakes again.

// remoteGone handles TRIGGER_NOT_PRESENT for id x: if x is the private id of
// a peer with a session, the session is dropped and a handshake begins.
func (px *Proxy) remoteGone(x id.ID) {
	if x.IsPublic() {
		return // a message 1 to a host that is not up: the handshake times out
	}
	gone := px.peers.byRemotePriv(x)
	if gone == nil {
		return
	}
	s := gone.sess.Load()
	if s == nil || !gone.sess.CompareAndSwap(s, nil) {
		return // already handshaking again
	}
	gone.prevSess.Store(nil)
	gone.mu.Lock()
	if gone.state == peerEstablished {
		gone.state = peerIdle
	}
	gone.mu.Unlock()
	px.log.Info("peer's private trigger is gone (it blocked this host, or lost its state): handshaking again",
		"peer", gone.describe())
	px.connect(gone)
}
