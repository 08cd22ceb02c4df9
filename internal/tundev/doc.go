// Package tundev creates the tun devices of i3net's roles (the proxy's, the
// gateway's through it, the middlebox's IDS device): it makes the device,
// gives it the addresses asked for (none for a device only read by an IDS)
// and brings it up, over netlink in the caller's network namespace. Errors
// wrap ErrInUse or ErrPermission when the device cannot be made, so each
// role can say which of its settings to change.
//
// It knows nothing of what the device carries; Linux only (elsewhere Create
// returns an error).
package tundev
