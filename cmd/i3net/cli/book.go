package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/proxy/book"
)

var bookCmd = &Command{
	Name:       "book",
	ShortUsage: "i3net book SUBCOMMAND [flags] [args]",
	ShortHelp:  "Manage the address book: the names of the hosts this one reaches",
	// LongHelp is completed by init with the list of subcommands.
	LongHelp: `
The address book maps names to the public keys of hosts: with "home" in it,
home.i3 resolves to a virtual address of the host that holds home's key, and
a connection to it is authenticated against that key, so nobody else can
answer for the name. Names are local to this host, like a phone book's.

The book is STATE-DIR/book.toml, a TOML file that may also be edited by hand
(see docs/book.md); a running proxy reloads it within seconds of a change.
`,
	Order: 31,
	Flags: func() (*flag.FlagSet, func(ctx context.Context, args []string) error) {
		var st stateFlags
		fs := flag.NewFlagSet("book", flag.ContinueOnError)
		st.addDirFlag(fs)
		st.addBookFlag(fs)
		return fs, func(ctx context.Context, args []string) error {
			return runBook(ctx, st, args)
		}
	},
}

const bookHelpTail = `
Run "i3net book SUBCOMMAND --help" for its flags. The --state-dir and --book
flags go before or after the subcommand.

Examples:

  # On the host to add: print its key and the command to run elsewhere
  i3net id

  # Here: call it home, allowing a direct path to it
  i3net book add home i3pk1rdqtxhkhuscu8tv0dvs0zrar93jsf8m9sa0e07stpyn2ndleyl3qlnq2d8 --shortcut
  ssh home.i3

  # Everything in the book, then stop talking to home
  i3net book ls
  i3net book block home
`

// bookSub is a subcommand of "i3net book".
type bookSub struct {
	name  string
	args  string // the positional arguments, e.g. "NAME KEY"
	short string // one line for the list
	long  string // paragraphs for "--help"
	// flags binds the subcommand's own flags on fs and returns its run
	// function, called with exactly the arguments args names.
	flags func(fs *flag.FlagSet) func(st stateFlags, args []string) error
}

// command returns sub as a Command, for its help.
func (sub *bookSub) command() *Command {
	return &Command{
		Name:       "book " + sub.name,
		ShortUsage: strings.TrimSpace("i3net book " + sub.name + " [flags] " + sub.args),
		ShortHelp:  sub.short,
		LongHelp:   sub.long,
	}
}

var bookSubs = []*bookSub{
	{
		name:  "add",
		args:  "NAME KEY",
		short: "Add a host: NAME.i3 will stand for the host whose public key is KEY",
		long: `
NAME is one or more DNS labels (letters, digits, hyphens) joined by dots, in any
case, without the overlay suffix: "home", "web.office". KEY is the host's public
key as "i3net id" prints it on that host ("i3pk1…", 63 characters whose
checksum makes a typo an error naming the character; a key in the old form
"i3pk1:…" is taken, with a warning, and stored in the new form). A name already
in the book is refused unless --replace is given; the new entry then replaces
the old one, options and all. Several names may share a key, with the same
options.

Examples:

  i3net book add home i3pk1rdqtxhkhuscu8tv0dvs0zrar93jsf8m9sa0e07stpyn2ndleyl3qlnq2d8 --shortcut
  i3net book add ids i3pk1ppf7gm0fakgawjypmafuxxwpxuh02v2vn42h3dwx0r0zxmgspg9synkcup --plaintext --comment "the IDS box"
  i3net book add home i3pk1rdqtxhkhuscu8tv0dvs0zrar93jsf8m9sa0e07stpyn2ndleyl3qlnq2d8 --anonymous --replace
`,
		flags: func(fs *flag.FlagSet) func(stateFlags, []string) error {
			var a bookAddArgs
			fs.BoolVar(&a.shortcut, "shortcut", false, "allow a direct path to the host, off the overlay (§5.2)")
			fs.BoolVar(&a.plaintext, "plaintext", false, "don't encrypt data to the host (e.g. an IDS must read it)")
			fs.StringVar(&a.middlebox, "middlebox", "", "send the sessions with the host through the middlebox the book names `NAME` (its IDS reads them)")
			fs.BoolVar(&a.anonymous, "anonymous", false, "reach the host anonymously: an ephemeral key and address per session, a random relay, no shortcut (docs/anonymity.md)")
			fs.BoolVar(&a.noPreserveHeaders, "no-preserve-headers", false, "don't derive the host's virtual address from its id (§3.3)")
			fs.StringVar(&a.comment, "comment", "", "a note for people, kept in the file")
			fs.BoolVar(&a.replace, "replace", false, "replace the entry if NAME is already in the book")
			return func(st stateFlags, args []string) error { return runBookAdd(st, a, args[0], args[1]) }
		},
	},
	{
		name:  "rm",
		args:  "NAME",
		short: "Remove a name from the book",
		long: `
Rm removes NAME; a running proxy forgets it within seconds. It fails if NAME is
not in the book.
`,
		flags: func(fs *flag.FlagSet) func(stateFlags, []string) error {
			return func(st stateFlags, args []string) error { return runBookRm(st, args[0]) }
		},
	},
	{
		name:  "ls",
		short: "List the hosts of the book",
		long: `
Ls prints a line per name: the name, the start of the host's id, its key and
the options that differ from the defaults. Lines starting with "# " are notes.
`,
		flags: func(fs *flag.FlagSet) func(stateFlags, []string) error {
			var asJSON bool
			fs.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
			return func(st stateFlags, _ []string) error { return runBookLs(st, asJSON) }
		},
	},
	{
		name:  "show",
		args:  "NAME",
		short: "Show one host: its key, full id, options and comment",
		flags: func(fs *flag.FlagSet) func(stateFlags, []string) error {
			var asJSON bool
			fs.BoolVar(&asJSON, "json", false, "print JSON instead of text")
			return func(st stateFlags, args []string) error { return runBookShow(st, args[0], asJSON) }
		},
	},
	{
		name:  "block",
		args:  "NAME",
		short: "Refuse a host: drop the private trigger it was given and answer nothing",
		long: `
Block marks the host blocked = true (with every other name of its key). A
running proxy applies it within seconds: it removes the private trigger it gave
the host, so the overlay drops the host's packets before they reach this one
(§4.1), and refuses new sessions from it. "i3net book unblock NAME" undoes it.
`,
		flags: func(fs *flag.FlagSet) func(stateFlags, []string) error {
			return func(st stateFlags, args []string) error { return runBookBlock(st, args[0], true) }
		},
	},
	{
		name:  "unblock",
		args:  "NAME",
		short: "Accept a blocked host again",
		flags: func(fs *flag.FlagSet) func(stateFlags, []string) error {
			return func(st stateFlags, args []string) error { return runBookBlock(st, args[0], false) }
		},
	},
}

func init() {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(bookCmd.LongHelp))
	b.WriteString("\n\nSubcommands:\n\n")
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	for _, sub := range bookSubs {
		fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(sub.name+" "+sub.args), sub.short)
	}
	tw.Flush()
	b.WriteString(bookHelpTail)
	bookCmd.LongHelp = b.String()
	register(bookCmd)
}

func findBookSub(name string) *bookSub {
	for _, sub := range bookSubs {
		if sub.name == name {
			return sub
		}
	}
	return nil
}

func bookSubNames() string {
	names := make([]string, len(bookSubs))
	for i, sub := range bookSubs {
		names[i] = sub.name
	}
	return strings.Join(names, ", ")
}

// runBook parses the subcommand's flags and runs it. st holds the values of
// --state-dir and --book given before the subcommand; the subcommand's own flag
// set takes them too, with those values as defaults.
func runBook(_ context.Context, st stateFlags, args []string) error {
	if len(args) == 0 {
		return usageErrorf("missing subcommand: one of %s", bookSubNames())
	}
	if args[0] == "help" && len(args) <= 2 { // "i3net book help [SUBCOMMAND]"
		if len(args) == 1 {
			c := find("book")
			fs, _ := c.Flags()
			printCommandHelp(Stdout, c, fs)
			return nil
		}
		args = []string{args[1], "--help"}
	}
	sub := findBookSub(args[0])
	if sub == nil {
		return usageErrorf("unknown subcommand %q: want one of %s", args[0], bookSubNames())
	}
	fs := flag.NewFlagSet("book "+sub.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	st.addDirFlag(fs)
	st.addBookFlag(fs)
	run := sub.flags(fs)
	pos, err := parseInterspersed(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		printCommandHelp(Stdout, sub.command(), fs)
		return nil
	}
	if err != nil {
		return subUsage(sub, usageErrorf("%s: %v", sub.name, err))
	}
	if want := len(strings.Fields(sub.args)); len(pos) != want {
		if want == 0 {
			return subUsage(sub, usageErrorf("%s takes no arguments, have %q", sub.name, pos))
		}
		return subUsage(sub, usageErrorf("%s wants %s, have %d argument(s) %q", sub.name, sub.args, len(pos), pos))
	}
	return subUsage(sub, run(st, pos))
}

// subUsage points a usage error of sub at sub's own help.
func subUsage(sub *bookSub, err error) error {
	var ue *usageError
	if errors.As(err, &ue) && ue.help == "" {
		ue.help = "book " + sub.name
	}
	return err
}

// parseInterspersed parses flags anywhere among the arguments, as in
// "add home KEY --shortcut", and returns the others in order. Everything after
// "--" is an argument.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

type bookAddArgs struct {
	shortcut, plaintext, noPreserveHeaders, replace bool
	anonymous                                       bool
	middlebox                                       string
	comment                                         string
}

func runBookAdd(st stateFlags, a bookAddArgs, name, keyText string) error {
	if err := book.CheckName(name); err != nil {
		return usageErrorf("%v", err)
	}
	name = strings.ToLower(name)
	if base, ok := strings.CutSuffix(name, ".i3"); ok {
		return usageErrorf("name %q ends in the overlay suffix: give the name without it (%s)", name, base)
	}
	key, legacy, err := identity.ParseKeyText(keyText)
	if err != nil {
		return usageErrorf("KEY: %v; \"i3net id\" on that host prints its key", err)
	}
	if legacy {
		fmt.Fprintf(Stderr, "i3net book: warning: KEY is in the old form, without a checksum, which the next release will not read; the book stores its new form %s\n", key)
	}
	path := st.bookPath()
	b, err := loadBook(path)
	if errors.Is(err, book.ErrNoDir) && st.book == "" {
		b, err = nil, nil // a new state directory: Save creates it, as "i3net id" does
	}
	if err != nil {
		return err
	}
	old, exists := b.Lookup(name)
	if exists && !a.replace {
		return fmt.Errorf("%s is already in %s, with key %s: --replace replaces it", name, path, old.Key)
	}
	e := book.NewEntry(name, key)
	e.Shortcut, e.Plaintext, e.PreserveHeaders, e.Comment = a.shortcut, a.plaintext, !a.noPreserveHeaders, a.comment
	e.Middlebox = strings.ToLower(a.middlebox)
	e.Anonymous = a.anonymous
	if first, ok := b.ByKey(key); ok {
		e.Blocked = first.Blocked // a block belongs to the host, whatever its names
	}
	nb, err := b.With(e)
	if err != nil {
		return err
	}
	if err := nb.Save(path); err != nil {
		return stateError(err)
	}
	verb := "added"
	if exists {
		verb = "replaced"
	}
	fmt.Fprintf(Stdout, "%s %s (id %s) in %s: reach it as %s.i3\n", verb, name, e.ID.Short(), path, name)
	if others := otherNames(nb, e); others != "" {
		fmt.Fprintf(Stdout, "# the same key is also named %s\n", others)
	}
	if e.Blocked {
		fmt.Fprintf(Stdout, "# the host is blocked: i3net book unblock %s\n", name)
	}
	return nil
}

// loadBook loads the book at path and shows its warnings (keys in the old
// form) on stderr.
func loadBook(path string) (*book.Book, error) {
	b, err := book.Load(path)
	if err != nil {
		return nil, err
	}
	for _, w := range b.Warnings() {
		fmt.Fprintf(Stderr, "i3net book: warning: %v\n", w)
	}
	return b, nil
}

// loadEntry loads the book and finds name in it, or says plainly that the
// book has no such host.
func loadEntry(st stateFlags, name string) (*book.Book, book.Entry, string, error) {
	path := st.bookPath()
	b, err := loadBook(path)
	if err != nil {
		return nil, book.Entry{}, path, err
	}
	e, ok := b.Lookup(name)
	if !ok {
		return nil, book.Entry{}, path, fmt.Errorf("no host named %q in %s", name, path)
	}
	return b, e, path, nil
}

func runBookRm(st stateFlags, name string) error {
	b, e, path, err := loadEntry(st, name)
	if err != nil {
		return err
	}
	nb, err := b.Without(name)
	if err != nil {
		return err
	}
	if err := nb.Save(path); err != nil {
		return stateError(err)
	}
	fmt.Fprintf(Stdout, "removed %s (key %s) from %s\n", e.Name, e.Key, path)
	if others := otherNames(nb, e); others != "" {
		fmt.Fprintf(Stdout, "# the same key is still named %s\n", others)
	}
	return nil
}

// bookList is what "i3net book ls --json" prints.
type bookList struct {
	File  string       `json:"file"`
	Hosts []book.Entry `json:"hosts"`
}

func runBookLs(st stateFlags, asJSON bool) error {
	path := st.bookPath()
	b, err := loadBook(path)
	if err != nil {
		return err
	}
	entries := b.Entries()
	if asJSON {
		return printJSON(bookList{File: path, Hosts: append([]book.Entry{}, entries...)})
	}
	if len(entries) == 0 {
		fmt.Fprintf(Stdout, "# the book is empty: add a host with i3net book add NAME KEY (i3net id on that host prints its key)\n# file: %s\n", path)
		return nil
	}
	tw := tabwriter.NewWriter(Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tID\tKEY\tOPTIONS")
	blocked := 0
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, e.ID.Short(), e.Key, entryOptions(e))
		if e.Blocked {
			blocked++
		}
	}
	tw.Flush()
	fmt.Fprintf(Stdout, "# %d name(s) in %s", len(entries), path)
	if blocked > 0 {
		fmt.Fprintf(Stdout, ", %d blocked", blocked)
	}
	fmt.Fprintln(Stdout)
	return nil
}

func runBookShow(st stateFlags, name string, asJSON bool) error {
	b, e, path, err := loadEntry(st, name)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(e)
	}
	tw := tabwriter.NewWriter(Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "name\t%s (%s.i3)\n", e.Name, e.Name)
	fmt.Fprintf(tw, "key\t%s\n", e.Key)
	fmt.Fprintf(tw, "id\t%s\n", e.ID)
	fmt.Fprintf(tw, "options\t%s\n", entryOptions(e))
	if e.Comment != "" {
		fmt.Fprintf(tw, "comment\t%s\n", e.Comment)
	}
	if others := otherNames(b, e); others != "" {
		fmt.Fprintf(tw, "aliases\t%s\n", others)
	}
	fmt.Fprintf(tw, "file\t%s\n", path)
	return tw.Flush()
}

// runBookBlock sets blocked on name and on every other name of its key.
func runBookBlock(st stateFlags, name string, blocked bool) error {
	b, e, path, err := loadEntry(st, name)
	if err != nil {
		return err
	}
	if e.Blocked == blocked {
		fmt.Fprintf(Stdout, "%s is already %s\n", e.Name, blockedWord(blocked))
		return nil
	}
	entries := b.Entries()
	for i := range entries {
		if entries[i].Key == e.Key {
			entries[i].Blocked = blocked
		}
	}
	nb, err := book.New(entries...)
	if err != nil {
		return err
	}
	if err := nb.Save(path); err != nil {
		return stateError(err)
	}
	fmt.Fprintf(Stdout, "%s %s (key %s) in %s\n", blockedWord(blocked), e.Name, e.Key, path)
	if others := otherNames(nb, e); others != "" {
		fmt.Fprintf(Stdout, "# and the other names of its key: %s\n", others)
	}
	if blocked {
		fmt.Fprintln(Stdout, "# a running proxy applies it within seconds: it drops the private trigger it gave the host and refuses it")
	} else {
		fmt.Fprintln(Stdout, "# a running proxy accepts the host again within seconds")
	}
	return nil
}

func blockedWord(blocked bool) string {
	if blocked {
		return "blocked"
	}
	return "unblocked"
}

// entryOptions lists the options of e that differ from the defaults, or "-".
func entryOptions(e book.Entry) string {
	if o := e.Options(); len(o) > 0 {
		return strings.Join(o, ",")
	}
	return "-"
}

// otherNames returns the names of b other than e's that share e's key, or "".
func otherNames(b *book.Book, e book.Entry) string {
	var others []string
	for _, n := range b.Names(e.Key) {
		if n != e.Name {
			others = append(others, n)
		}
	}
	return strings.Join(others, ", ")
}

func printJSON(v any) error {
	enc := json.NewEncoder(Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
