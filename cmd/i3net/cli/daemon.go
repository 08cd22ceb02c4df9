package cli

import (
	"flag"
	"fmt"
	"path/filepath"

	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/proxy"
)

// daemonArgs are the flags of the roles that wrap a proxy (gateway,
// ingress): the state directory, the configuration file, servers and logs.
type daemonArgs struct {
	state    stateFlags
	config   string
	servers  addrList
	logLevel string
}

// addFlags defines the flags on fs; role names the role in their help.
func (a *daemonArgs) addFlags(fs *flag.FlagSet, role string) {
	a.state.addDirFlag(fs)
	a.state.addBookFlag(fs)
	fs.StringVar(&a.config, "config", "", "the "+role+"'s configuration `FILE` (TOML; required)")
	fs.Var(&a.servers, "server", "overlay server `ADDR:PORT` (repeatable; overrides the file's servers)")
	fs.StringVar(&a.logLevel, "log-level", "info", "`LEVEL` of logs: debug, info, warn, error")
}

// proxyConfig returns the proxy settings that come from the state directory
// and the flags; role names the state file and the logs.
func (a *daemonArgs) proxyConfig(role string) (proxy.Config, error) {
	cfg := proxy.DefaultConfig()
	ident, err := identity.Load(a.state.identityPath())
	if err != nil {
		return cfg, fmt.Errorf("%w (create one with: i3net id --state-dir %s)", stateError(err), a.state.dir)
	}
	cfg.Identity = ident
	cfg.BookPath = a.state.bookPath()
	cfg.StatePath = filepath.Join(a.state.dir, role+"-state.json")
	cfg.ControlPath = controlPath(a.state.dir)
	cfg.Servers = a.servers
	log, err := newLogger(a.logLevel)
	if err != nil {
		return cfg, err
	}
	cfg.Logger = log.With("role", role)
	return cfg, nil
}
