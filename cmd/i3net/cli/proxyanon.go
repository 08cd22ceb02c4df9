package cli

import (
	"flag"

	"github.com/i3net/i3net/proxy"
)

// The proxy's anonymity settings (docs/anonymity.md): whether it accepts
// anonymous sessions, and how often its own anonymous sessions rotate.

// addAnonFlags defines --no-anonymous and --anonymous-rotate on fs.
func (a *proxyArgs) addAnonFlags(fs *flag.FlagSet) {
	fs.BoolVar(&a.noAnon, "no-anonymous", false, "refuse anonymous sessions (an ephemeral key) from hosts the address book does not name (--only-book refuses them too)")
	durationVar(fs, &a.anonRotate, "anonymous-rotate", 0,
		"replace a session with a peer reached anonymously once older than this, at its next use after a 2 s pause (default "+
			proxy.DefaultAnonRotate.String()+", or anonymous_rotate in the --config file)")
}

// fileAnonymity takes the configuration file's anonymity keys; flags win.
func (a *proxyArgs) fileAnonymity(f proxyFile) {
	if f.AcceptAnonymous != nil && !*f.AcceptAnonymous {
		a.noAnon = true
	}
	if a.anonRotate == 0 {
		a.anonRotate = f.AnonymousRotate
	}
}

// applyAnonymity sets cfg's anonymity fields from the flags and the file.
func (a *proxyArgs) applyAnonymity(cfg *proxy.Config) {
	cfg.AcceptAnonymous = !a.noAnon && !a.onlyBook
	if a.anonRotate != 0 {
		cfg.AnonRotate = a.anonRotate
	}
}
