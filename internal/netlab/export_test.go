package netlab

import "net/netip"

// Internals for the tests of package netlab_test, which build labs through
// netlabtest (an in-package test cannot import it: netlabtest imports netlab).
var (
	NetnsDir        = netnsDir
	EtcNetnsDir     = etcNetnsDir
	RunTool         = runTool
	RemoveNamespace = removeNamespace
	IsStale         = isStale
	InNamespace     = inNamespace
)

// NewHost is the unexported newHost, for checking its name rules.
func (l *Lab) NewHost(name string) (*Host, error) { return l.newHost(name) }

// MappingsTo counts the conntrack entries in h's namespace whose replies go
// to a: a NAT's mappings of its address a.
func (h *Host) MappingsTo(a netip.Addr) (int, error) { return mappingsTo(h.ns, a) }
