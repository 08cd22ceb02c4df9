// Package cli holds the i3net command line: one file per subcommand, each holding
// a Command value, its flags and its run function. Subcommands register themselves
// from init with register, so adding one touches only its own file.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
)

// Command is one subcommand of i3net.
type Command struct {
	Name       string
	ShortUsage string // e.g. "i3net ping [flags] ID|NAME"
	ShortHelp  string // one line for the command list
	LongHelp   string // paragraphs shown by "i3net CMD --help"
	// Order places the command in the list shown by "i3net help" (lower first).
	Order int
	// Flags returns the command's flag set, bound to a fresh args struct, and the
	// function that runs the command with it.
	Flags func() (*flag.FlagSet, func(ctx context.Context, args []string) error)
}

var commands []*Command

// register adds c to the command list; subcommand files call it from init.
func register(c *Command) {
	commands = append(commands, c)
	slices.SortFunc(commands, func(a, b *Command) int {
		if a.Order != b.Order {
			return a.Order - b.Order
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// Stdout and Stderr are where commands write; tests replace them.
var (
	Stdout io.Writer = os.Stdout
	Stderr io.Writer = os.Stderr
)

// ErrUsage marks an error in how a command was called: Run prints it with a
// line pointing at the command's --help, and exits with status 2.
var ErrUsage = errors.New("usage")

// usageError is an ErrUsage with its message.
type usageError struct {
	err error
	// help names the command whose --help to point at ("book add"); empty
	// for the command that ran.
	help string
}

func (e *usageError) Error() string        { return e.err.Error() }
func (e *usageError) Unwrap() error        { return e.err }
func (e *usageError) Is(target error) bool { return target == ErrUsage }

func usageErrorf(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// noArgs is the run function of a command that takes no arguments: an
// argument is a usage error naming it; without one, run runs.
func noArgs(run func(context.Context) error) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			return usageErrorf("unexpected argument %q", args[0])
		}
		return run(ctx)
	}
}

// Run runs the command line args (without the program name) and returns the
// process exit status: 0 on success, 1 on failure, 2 on bad usage.
func Run(args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) > 1 {
			if c := find(args[1]); c != nil {
				fs, _ := c.Flags()
				printCommandHelp(Stdout, c, fs)
				return 0
			}
		}
		printRootHelp(Stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c := find(args[0])
	if c == nil {
		fmt.Fprintf(Stderr, "i3net: unknown command %q\nRun 'i3net help' for the list of commands.\n", args[0])
		return 2
	}
	fs, run := c.Flags()
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandHelp(Stdout, c, fs)
			return 0
		}
		return usageFailed(c.Name, c.Name, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, fs.Args()); err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			help := c.Name
			if ue.help != "" {
				help = ue.help
			}
			return usageFailed(c.Name, help, err)
		}
		// "i3net server: server: config: …" says "server" once.
		msg := strings.TrimPrefix(err.Error(), c.Name+": ")
		fmt.Fprintf(Stderr, "i3net %s: %s\n", c.Name, msg)
		return 1
	}
	return 0
}

// usageFailed prints a usage error of command name and where its help is, and
// returns the exit status of bad usage. The help is not printed: the error
// would scroll away above it.
func usageFailed(name, help string, err error) int {
	fmt.Fprintf(Stderr, "i3net %s: %v\nRun 'i3net %s --help' for usage.\n", name, err, help)
	return 2
}

func find(name string) *Command {
	for _, c := range commands {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func printRootHelp(w io.Writer) {
	fmt.Fprint(w, `i3net: reach hosts by name through the i3 indirection overlay.

Usage: i3net COMMAND [flags] [args]

Commands:
`)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", c.Name, c.ShortHelp)
	}
	tw.Flush()
	fmt.Fprintf(w, `
Environment:
  %s  the state directory (identity, address book, proxy state) of every
                   command, unless --state-dir says otherwise (default %s;
                   for other users than root ~/.local/state/i3net)

Run "i3net COMMAND --help" for a command's flags and examples.
`, stateDirEnv, defaultStateDir)
}

func printCommandHelp(w io.Writer, c *Command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", c.ShortUsage, c.ShortHelp)
	if c.LongHelp != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.LongHelp))
	}
	has := false
	fs.VisitAll(func(*flag.Flag) { has = true })
	if has {
		fmt.Fprint(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}
