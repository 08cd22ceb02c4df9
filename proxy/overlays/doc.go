// Package overlays runs several overlays in one process on one tun device
// (paper §3.1: names are "routed ... based on the name suffix"; §10).
//
// Each overlay is a proxy.Proxy of its own, with its own suffix, servers,
// identity, address book, pools and state, unchanged: it runs on a Port of
// the one real device rather than on a device of its own. A Dispatcher
// reads the real device and hands each packet to the port whose pools hold
// its destination; ports write straight through to the device. The proxy
// core is not rewritten, and a single overlay does not use this package at
// all.
//
// The first overlay is the primary: it alone hooks the host's resolver, and
// its DNS responder answers every overlay's suffix with that overlay's
// proxy (proxy.Config.Also); its control socket shows every overlay
// (proxy.Status.Overlays). Open checks the overlays against each other
// (suffixes, pools, state files) and the host's routes before it makes
// anything.
//
// Killing one overlay's servers leaves the others' sessions alone: they
// share the device and the process, nothing else.
package overlays
