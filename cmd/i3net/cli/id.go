package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/proxy/book"
)

var idCmd = &Command{
	Name:       "id",
	ShortUsage: "i3net id [--json] [--new [--force]] [--state-dir DIR]",
	ShortHelp:  "Show this host's public key and id, creating the identity if needed",
	LongHelp: `
A host is known by one Ed25519 key, kept in STATE-DIR/identity.pem (mode 0600).
Its public half, printed as "i3pk1…" (63 characters with a checksum, so a typo
is caught), is what other hosts put in their address books; the host's public
id derives from it. Id creates the identity the first time (saying so on
stderr) and afterwards only reads it. It prints the key, the id, and the
command another host runs to add this one to its address book: named after
this host, or NAME to fill in when the host name is one many hosts share
("localhost", "ubuntu", a container's id).

--new makes a new identity, but refuses to replace an existing one unless
--force is given too: every host that has the old key in its address book must
then be given the new one.

Examples:

  # Show (and create, the first time) this host's key
  i3net id

  # The same as JSON, for scripts
  i3net id --json

  # Keep the identity somewhere else, for this command only
  i3net id --state-dir ~/.i3net

  # ... or for every command (id, book, proxy, status) of this shell
  export I3NET_STATE_DIR=~/.i3net
  i3net id
`,
	Order: 30,
	Flags: func() (*flag.FlagSet, func(ctx context.Context, args []string) error) {
		var a idArgs
		fs := flag.NewFlagSet("id", flag.ContinueOnError)
		a.state.addDirFlag(fs)
		fs.BoolVar(&a.json, "json", false, "print JSON instead of text")
		fs.BoolVar(&a.new, "new", false, "make a new identity (refused if one exists, unless --force)")
		fs.BoolVar(&a.force, "force", false, "with --new: replace the existing identity")
		fs.StringVar(&a.file, "file", "", "the identity `FILE` (default STATE-DIR/identity.pem; a bare name is in the state directory): e.g. lab.pem, a second identity for another overlay")
		return fs, noArgs(func(ctx context.Context) error { return runID(ctx, a) })
	},
}

func init() { register(idCmd) }

type idArgs struct {
	state stateFlags
	json  bool
	new   bool
	force bool
	file  string // --file: another identity file than the host's
}

// idInfo is what "i3net id" prints.
type idInfo struct {
	Key        identity.PublicKey `json:"key"`
	ID         id.ID              `json:"id"`
	File       string             `json:"file"`
	Created    bool               `json:"created"`  // the identity did not exist before this run
	Replaced   bool               `json:"replaced"` // --new --force replaced an existing one
	AddCommand string             `json:"add_command"`
}

func runID(_ context.Context, a idArgs) error {
	if a.force && !a.new {
		return usageErrorf("--force only goes with --new")
	}
	path := a.state.identityPath()
	if a.file != "" {
		path = a.state.inDir(a.file)
	}
	var (
		x    *identity.Identity
		info = idInfo{File: path}
		err  error
	)
	if a.new {
		x, info.Replaced, err = newIdentity(path, a.force)
		info.Created = !info.Replaced
	} else {
		x, info.Created, err = identity.LoadOrCreate(path)
	}
	if err != nil {
		return stateError(err)
	}
	info.Key, info.ID = x.Public(), x.ID()
	name, named := suggestedName()
	info.AddCommand = fmt.Sprintf("i3net book add %s %s", name, info.Key)
	switch {
	case info.Replaced:
		info.AddCommand += " --replace"
		fmt.Fprintf(Stderr, "i3net id: replaced the identity in %s: every host that has this one in its address book needs the new key\n", path)
	case info.Created:
		fmt.Fprintf(Stderr, "i3net id: created a new identity in %s\n", path)
	}
	if a.json {
		enc := json.NewEncoder(Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	fmt.Fprintf(Stdout, "key  %s\nid   %s\n\nAnother host adds this one to its address book with:\n\n  %s\n", info.Key, info.ID, info.AddCommand)
	if !named {
		fmt.Fprintf(Stdout, "\n(replace %s with the name the other host should use for this one: %s there reaches it as %s.i3)\n",
			namePlaceholder, "myhost", "myhost")
	}
	return nil
}

// newIdentity makes and saves a new identity at path. An existing one (even
// one that cannot be read) is replaced only with force.
func newIdentity(path string, force bool) (x *identity.Identity, replaced bool, err error) {
	old, err := identity.Load(path)
	switch {
	case err == nil && !force:
		return nil, false, fmt.Errorf("%s already holds an identity (key %s): --new --force replaces it, and every host that has this one in its address book then needs the new key", path, old.Public())
	case err != nil && !errors.Is(err, fs.ErrNotExist) && !force:
		return nil, false, fmt.Errorf("%w; --new --force replaces it", err)
	}
	replaced = err == nil || !errors.Is(err, fs.ErrNotExist)
	if x, err = identity.Generate(); err != nil {
		return nil, false, err
	}
	if err := x.Save(path); err != nil {
		return nil, false, err
	}
	return x, replaced, nil
}

// namePlaceholder stands in the suggested "book add" command when this host's
// name would be a poor name for it elsewhere.
const namePlaceholder = "NAME"

// genericHostNames are host names that many machines share (distribution and
// image defaults): a poor name for this host in another host's book.
var genericHostNames = map[string]bool{
	"localhost": true, "ubuntu": true, "debian": true, "fedora": true, "centos": true, "alpine": true,
	"archlinux": true, "raspberrypi": true, "vm": true, "host": true, "server": true, "box": true,
	"node": true, "machine": true, "default": true, "linux": true, "container": true, "docker": true,
}

// hostname and inContainer are what suggestedName looks at; tests replace them.
var (
	hostname    = os.Hostname
	inContainer = func() bool {
		for _, f := range []string{"/.dockerenv", "/run/.containerenv"} {
			if _, err := os.Stat(f); err == nil {
				return true
			}
		}
		return false
	}
)

// suggestedName returns the name another host may give this one in its
// address book: the first label of the host name, unless that is no good name
// or one many hosts share (a distribution's default, "localhost", a
// container's id); then namePlaceholder, and ok is false.
func suggestedName() (name string, ok bool) {
	h, err := hostname()
	if err != nil {
		return namePlaceholder, false
	}
	h, _, _ = strings.Cut(strings.ToLower(h), ".")
	switch {
	case book.CheckName(h) != nil, genericHostNames[h], looksLikeContainerID(h), inContainer() && !strings.ContainsAny(h, "ghijklmnopqrstuvwxyz"):
		return namePlaceholder, false
	}
	return h, true
}

// looksLikeContainerID reports whether h is a run of 12 or more hex digits,
// as Docker and Podman name a container's host by default.
func looksLikeContainerID(h string) bool {
	if len(h) < 12 {
		return false
	}
	for _, c := range h {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
