package book

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/i3net/i3net/internal/atomicfile"
)

// header opens every file Save writes.
const header = `# i3net address book: the names this host resolves under the overlay suffix
# (home -> home.i3) and the public key each one stands for.
#
# This file is managed by "i3net book" (add, rm, block, ...), and editing it by
# hand is fine: a running proxy reloads it within seconds. When "i3net book"
# rewrites it, it keeps every host and its comment = "...", but not comments
# written with '#'. Keys: key (required), shortcut, plaintext, preserve_headers, middlebox,
# anonymous, blocked, comment, id (optional check). See docs/book.md.
`

// Encode returns the text Save writes: the header, then one table per name in
// order, each with the key and the options that differ from the defaults.
func (b *Book) Encode() []byte {
	var w bytes.Buffer
	w.WriteString(header)
	for _, e := range b.Entries() {
		name := e.Name
		if strings.Contains(name, ".") {
			name = `"` + name + `"`
		}
		fmt.Fprintf(&w, "\n[hosts.%s]\nkey = %q # id %s\n", name, e.Key.String(), e.ID.Short())
		if e.Shortcut {
			w.WriteString("shortcut = true\n")
		}
		if e.Plaintext {
			w.WriteString("plaintext = true\n")
		}
		if !e.PreserveHeaders {
			w.WriteString("preserve_headers = false\n")
		}
		if e.Blocked {
			w.WriteString("blocked = true\n")
		}
		if e.Middlebox != "" {
			fmt.Fprintf(&w, "middlebox = %q\n", e.Middlebox)
		}
		if e.Anonymous {
			w.WriteString("anonymous = true\n")
		}
		if e.Comment != "" {
			w.WriteString("comment = ")
			writeString(&w, e.Comment)
			w.WriteByte('\n')
		}
	}
	return w.Bytes()
}

// writeString writes s as a TOML basic string.
func writeString(w *bytes.Buffer, s string) {
	w.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			w.WriteString(`\"`)
		case '\\':
			w.WriteString(`\\`)
		case '\b':
			w.WriteString(`\b`)
		case '\t':
			w.WriteString(`\t`)
		case '\n':
			w.WriteString(`\n`)
		case '\f':
			w.WriteString(`\f`)
		case '\r':
			w.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(w, `\u%04X`, r)
			} else {
				w.WriteRune(r)
			}
		}
	}
	w.WriteByte('"')
}

// Save writes b to path atomically: to a temporary file in the same directory,
// mode 0644, then renamed over path (over the file a symbolic link at path
// points to, if it is one). It creates the directory if needed.
func (b *Book) Save(path string) error {
	return atomicfile.Write(path, b.Encode(), 0o644, atomicfile.Options{MkdirPerm: 0o755, FollowSymlink: true})
}
