// Package publish is what an overlay host tells an ingress (paper §4.4.2):
// which of its services (name, port) the ingress may expose to hosts that run
// nothing of ours, and, back from the ingress, whether it took them and the
// real address of each client it brings.
//
// The services live in a TOML file in the host's state directory
// (publish.toml, edited by "i3net publish"), which the proxy reloads when it
// changes. On the wire (control messages inside the session, proxy/control.go)
// a host always sends its whole set for an ingress, so a service left out is
// withdrawn; an empty set withdraws everything.
package publish
