package book

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
)

const (
	// MaxLabelLen is the longest label of a name, as in DNS.
	MaxLabelLen = 63
	// MaxNameLen is the longest name: a DNS name holds 253 characters, and this
	// leaves 13 for the dot and the overlay suffix (".i3" by default).
	MaxNameLen = 240
)

// Entry is one host of the book.
type Entry struct {
	// Name is the host's name in lower case, without the overlay suffix.
	Name string `json:"name"`
	// Key is the host's Ed25519 public key; a connection to the name is
	// authenticated against it.
	Key identity.PublicKey `json:"key"`
	// ID is the host's public id, Key.ID(). New and With derive it from Key,
	// overwriting what the caller put there.
	ID id.ID `json:"id"`
	// Shortcut allows a direct path to the host once both ends know each
	// other's address (§5.2). Default false.
	Shortcut bool `json:"shortcut"`
	// Plaintext leaves data to the host unencrypted, e.g. for a middlebox whose
	// IDS must read it (§6.4.1). It is still authenticated. Default false.
	Plaintext bool `json:"plaintext"`
	// PreserveHeaders derives the host's virtual address from its id, so both
	// ends agree on addresses and IP headers pass unchanged (§3.3). Default true.
	PreserveHeaders bool `json:"preserve_headers"`
	// Blocked refuses the host: the proxy drops the private trigger it gave it
	// and answers nothing (§4.1). Default false.
	Blocked bool `json:"blocked"`
	// Middlebox, if set, is the book name of a middlebox (§6.4) this host's
	// sessions with the host go through: data in clear for its IDS, and
	// accepted from the host only when the middlebox passed it.
	Middlebox string `json:"middlebox,omitempty"`
	// Anonymous reaches the host without this host's identity (§6.3,
	// docs/anonymity.md): an ephemeral key and virtual address per session,
	// the relay server picked at random, no shortcut. It excludes Shortcut
	// and Middlebox (both would name this host). Default false.
	Anonymous bool `json:"anonymous,omitempty"`
	// Comment is free text for people; Save keeps it.
	Comment string `json:"comment,omitempty"`
}

// NewEntry returns the entry for name and key with the default options.
func NewEntry(name string, key identity.PublicKey) Entry {
	return Entry{Name: strings.ToLower(name), Key: key, ID: key.ID(), PreserveHeaders: true}
}

// Options lists the options of e that differ from the defaults, in the order
// shortcut, plaintext, no-preserve-headers, blocked, middlebox, anonymous.
func (e Entry) Options() []string {
	var o []string
	if e.Shortcut {
		o = append(o, "shortcut")
	}
	if e.Plaintext {
		o = append(o, "plaintext")
	}
	if !e.PreserveHeaders {
		o = append(o, "no-preserve-headers")
	}
	if e.Blocked {
		o = append(o, "blocked")
	}
	if e.Middlebox != "" {
		o = append(o, "middlebox "+e.Middlebox)
	}
	if e.Anonymous {
		o = append(o, "anonymous")
	}
	return o
}

// samePeerOptions reports whether a and b, two names of one key, agree on the
// options that belong to the peer; if not, diff names the ones that differ.
func samePeerOptions(a, b Entry) (diff []string, ok bool) {
	if a.Shortcut != b.Shortcut {
		diff = append(diff, "shortcut")
	}
	if a.Plaintext != b.Plaintext {
		diff = append(diff, "plaintext")
	}
	if a.PreserveHeaders != b.PreserveHeaders {
		diff = append(diff, "preserve_headers")
	}
	if a.Blocked != b.Blocked {
		diff = append(diff, "blocked")
	}
	if a.Middlebox != b.Middlebox {
		diff = append(diff, "middlebox")
	}
	if a.Anonymous != b.Anonymous {
		diff = append(diff, "anonymous")
	}
	return diff, len(diff) == 0
}

// ErrName is returned (wrapped) by CheckName for a name the book cannot hold.
var ErrName = errors.New("bad name")

// CheckName reports whether name can be a name of the book (in any case): one or
// more DNS labels of letters, digits and hyphens, joined by dots.
func CheckName(name string) error {
	if err := checkName(name); err != nil {
		return fmt.Errorf("%w %q: %s", ErrName, name, err)
	}
	return nil
}

func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty")
	case len(name) > MaxNameLen:
		return fmt.Errorf("%d characters, at most %d", len(name), MaxNameLen)
	}
	for label := range strings.SplitSeq(name, ".") {
		switch {
		case label == "":
			return errors.New("empty label: dots go between labels, not at the ends or twice")
		case len(label) > MaxLabelLen:
			return fmt.Errorf("label %q has %d characters, at most %d", label, len(label), MaxLabelLen)
		case label[0] == '-' || label[len(label)-1] == '-':
			return fmt.Errorf("label %q starts or ends with a hyphen", label)
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isLabelChar(c) {
				r, _ := utf8.DecodeRuneInString(label[i:])
				return fmt.Errorf("%q is not allowed: use letters, digits and hyphens, with dots between labels", r)
			}
		}
	}
	return nil
}

func isLabelChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-'
}

// check validates e and returns it normalised: name in lower case, ID derived
// from the key.
func (e Entry) check() (Entry, error) {
	if err := CheckName(e.Name); err != nil {
		return e, err
	}
	e.Name = strings.ToLower(e.Name)
	if e.Key == (identity.PublicKey{}) {
		return e, fmt.Errorf("host %q: no key", e.Name)
	}
	if _, err := identity.ParsePublicKey(e.Key.String()); err != nil {
		return e, fmt.Errorf("host %q: %w", e.Name, err)
	}
	if err := e.anonymityClash(); err != nil {
		return e, fmt.Errorf("host %q: %w", e.Name, err)
	}
	if !utf8.ValidString(e.Comment) {
		return e, fmt.Errorf("host %q: comment is not valid UTF-8", e.Name)
	}
	e.ID = e.Key.ID()
	return e, nil
}

// anonymityClash says why an anonymous entry cannot have its other options:
// a shortcut sends this host's own address to the peer, and a middlebox
// route is a session whose tags name this host.
func (e Entry) anonymityClash() error {
	switch {
	case !e.Anonymous:
		return nil
	case e.Shortcut:
		return errors.New("anonymous and shortcut exclude each other (a shortcut shows the peer this host's address): drop one")
	case e.Middlebox != "":
		return fmt.Errorf("anonymous and middlebox %q exclude each other (the middlebox's route names this host): drop one", e.Middlebox)
	}
	return nil
}
