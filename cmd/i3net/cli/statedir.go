package cli

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Where a host keeps its state: its identity and its address book. Commands
// that read either (id, book, proxy, status) take the same flags.
const (
	// defaultStateDir is the state directory when neither --state-dir nor
	// $I3NET_STATE_DIR says otherwise.
	defaultStateDir = "/var/lib/i3net"
	// stateDirEnv names the environment variable that overrides
	// defaultStateDir (and is overridden by --state-dir).
	stateDirEnv = "I3NET_STATE_DIR"
	// identityFile is the host's private key, in the state directory.
	identityFile = "identity.pem"
	// bookFile is the address book, in the state directory unless --book says
	// otherwise.
	bookFile = "book.toml"
)

// stateFlags locates the state of the host. Bind its flags with addDirFlag and
// addBookFlag, then read the paths with identityPath and bookPath.
type stateFlags struct {
	dir  string // --state-dir
	book string // --book; empty: dir/book.toml
}

// stateDirDefault returns $I3NET_STATE_DIR, or defaultStateDir if it is unset
// or empty; for a user other than root, who cannot write there, the i3net
// directory of $XDG_STATE_HOME (default ~/.local/state).
func stateDirDefault() string {
	if d := os.Getenv(stateDirEnv); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return defaultStateDir
	}
	if x := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "i3net")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "i3net")
	}
	return defaultStateDir
}

// addDirFlag binds --state-dir to s.dir on fs. Its default is s.dir if set (so
// a subcommand's flag set can inherit its parent's value), else
// stateDirDefault().
func (s *stateFlags) addDirFlag(fs *flag.FlagSet) {
	def := s.dir
	if def == "" {
		def = stateDirDefault()
	}
	fs.StringVar(&s.dir, "state-dir", def, "keep the identity and address book in `DIR`; $"+stateDirEnv+" sets it for every command")
}

// addBookFlag binds --book to s.book on fs, keeping any value s.book has.
func (s *stateFlags) addBookFlag(fs *flag.FlagSet) {
	fs.StringVar(&s.book, "book", s.book, "the address book `FILE` (default STATE-DIR/"+bookFile+")")
}

// identityPath returns the file of the host's identity.
func (s *stateFlags) identityPath() string { return filepath.Join(s.dir, identityFile) }

// bookPath returns the file of the address book.
func (s *stateFlags) bookPath() string {
	if s.book != "" {
		return s.book
	}
	return filepath.Join(s.dir, bookFile)
}

// stateError adds to err, when it is a permission problem, how to point the
// command at a directory it may write.
func stateError(err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w (run as root, or choose another directory with --state-dir or $%s)", err, stateDirEnv)
	}
	return err
}
