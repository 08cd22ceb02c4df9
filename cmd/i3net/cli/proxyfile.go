package cli

import (
	"errors"
	"net/netip"
	"strconv"
	"time"

	"github.com/i3net/i3net/internal/tomlconf"
	"github.com/i3net/i3net/proxy/book"
	"github.com/i3net/i3net/proxy/rules"
)

// proxyFile is the proxy's configuration file (--config, TOML): what is
// easier kept in a file than in flags. Flags add to it.
type proxyFile struct {
	// Servers are overlay servers, as --server.
	Servers []netip.AddrPort `toml:"servers"`
	// Upstreams are the resolvers of other names, as --upstream.
	Upstreams []netip.AddrPort `toml:"upstreams"`
	// Rule is the ordered list of name rules (paper §4.4.1, §7.3):
	//
	//	[[rule]]
	//	match = "*.corp.example"   # or "corp.example", "*", "re:REGEXP"
	//	via = "office-gw"          # a gateway, by address book name
	//	[[rule]]
	//	match = "*.ads.example"
	//	action = "refuse"          # or "direct": the upstream resolvers
	Rule []rules.RuleConfig `toml:"rule"`
	// Middlebox is the book name of a middlebox (§6.4) this host imposes on
	// everyone who contacts it: their sessions go through it, in clear for
	// its IDS, and data that did not pass it is dropped.
	Middlebox string `toml:"middlebox"`
	// AcceptAnonymous = false refuses anonymous sessions from hosts the
	// book does not name, as --no-anonymous; AnonymousRotate is
	// --anonymous-rotate (docs/anonymity.md).
	AcceptAnonymous *bool         `toml:"accept_anonymous"`
	AnonymousRotate time.Duration `toml:"anonymous_rotate"`
	// QueueTarget is --queue-target: the longest standing queue from the
	// overlay before packets are marked or dropped ("0s": no limit).
	QueueTarget *time.Duration `toml:"queue_target"`
	// SplitLarge = true is --split-large: large packets are split in the
	// proxy, never carried whole.
	SplitLarge *bool `toml:"split_large"`
	// Procs is --procs: how many threads run the proxy at once (0: the
	// default).
	Procs *int `toml:"procs"`

	// The main overlay's tun, pools, suffix, port, resolver mode, log level
	// and mapping timeout, as their flags (proxyhost.go).
	hostFile

	// Overlay are the further overlays this proxy serves on the same tun
	// device, each with its own suffix (proxyoverlays.go).
	Overlay []overlayFile `toml:"overlay"`
	meta    tomlconf.Meta // for the overlays' errors, which need the flags too
}

// loadProxyFile reads the proxy's configuration file and compiles its
// rules; every error names the file, the line and the key.
func loadProxyFile(path string) (proxyFile, *rules.Rules, error) {
	var f proxyFile
	meta, err := tomlconf.Load("proxy", path, &f)
	if err != nil {
		return f, nil, err
	}
	f.meta = meta
	if err := f.hostFile.check(meta); err != nil {
		return f, nil, err
	}
	if err := checkOverlayFiles(meta, f.Overlay); err != nil {
		return f, nil, err
	}
	if f.Middlebox != "" {
		if err := book.CheckName(f.Middlebox); err != nil {
			return f, nil, meta.ValueErrorf([]string{"middlebox"}, f.Middlebox, "want the address book name of a middlebox: %v", err)
		}
	}
	if f.AnonymousRotate < 0 {
		return f, nil, meta.ValueErrorf([]string{"anonymous_rotate"}, f.AnonymousRotate.String(), "must be positive, e.g. \"10m\"")
	}
	if f.QueueTarget != nil && *f.QueueTarget < 0 {
		return f, nil, meta.ValueErrorf([]string{"queue_target"}, f.QueueTarget.String(), "must be positive, e.g. \"1ms\", or \"0s\" for no limit")
	}
	if f.Procs != nil && *f.Procs < 0 {
		return f, nil, meta.ValueErrorf([]string{"procs"}, strconv.Itoa(*f.Procs), "want a number of threads, e.g. 2, or 0 for the default")
	}
	if len(f.Rule) == 0 {
		return f, nil, nil
	}
	rs, err := rules.Compile(f.Rule)
	var ce *rules.ConfigError
	if errors.As(err, &ce) {
		return f, nil, meta.ValueErrorf([]string{"rule", strconv.Itoa(ce.Index), ce.Key}, ce.Value, "%s", ce.Msg)
	}
	return f, rs, err
}
