// Package book is the proxy's address book: the local table that maps a name to
// the Ed25519 public key of the host it stands for (the paper's "local
// resolution, local scope", §3.2). With the book holding
//
//	[hosts.home]
//	key = "i3pk1…"
//
// the name home.i3 resolves to a virtual address of the host whose public id
// derives from that key, and a connection to it is authenticated against the
// key: a name pins a key, not just an id, so nobody else can answer for it.
//
// # Names
//
// A name is one or more DNS labels joined by dots ("home", "web.office"): each
// label 1–63 letters, digits and hyphens, not starting or ending with a hyphen,
// the whole at most MaxNameLen characters so that the name and the overlay
// suffix still fit in a DNS name. Names are case-insensitive and kept in lower
// case. A name with dots must be quoted in the file: [hosts."web.office"].
//
// Several names may share one key; they are aliases of one host and must agree
// on its options (shortcut, plaintext, preserve_headers, blocked), since those
// belong to the peer, not to the name.
//
// # The file
//
// Load reads a TOML file that people may edit by hand; every error names the
// file, the line and the key ("book.toml:7: hosts.home.key: not an i3net public
// key: …"), and unknown keys are errors, so a typo never silently drops an
// option. A missing or empty file is an empty book. Save writes the file
// atomically; it keeps the fields and each host's comment = "…", not comments
// written with '#'. A Watcher reloads the file when it changes and keeps the
// last good book when the new text is bad.
//
// # Performance
//
// A Book is an immutable snapshot, safe for concurrent use without locks.
// Lookup, ByID and ByKey are map lookups and allocate nothing, whatever the case
// of the name. The package knows nothing of DNS, virtual addresses or sessions.
package book
