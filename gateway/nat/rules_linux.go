package nat

import (
	"encoding/binary"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Names of the table's objects: the counters Counters reads, and the helper.
const (
	counterServed      = "served"
	counterRefused     = "refused"
	counterUnsolicited = "unsolicited"
	ftpHelper          = "ftp"
)

const (
	// ftpPort is the FTP control port whose connections get the FTP helper.
	ftpPort = 21
	// tcpOptMaxseg is the TCP option kind of the MSS, and maxsegOffset and
	// maxsegLen where its value sits in the option.
	tcpOptMaxseg = 2
	maxsegOffset = 2
	maxsegLen    = 2
	// tcpFlagsOffset is the offset of the flags byte in the TCP header.
	tcpFlagsOffset = 13
	tcpFlagSYN     = 0x02
	tcpFlagRST     = 0x04
	// ifNameSize is the size of an interface name compared by meta iifname
	// and oifname: IFNAMSIZ, zero-padded.
	ifNameSize = unix.IFNAMSIZ
	// reg is the register every rule loads into and compares.
	reg = unix.NFT_REG_1
)

// table returns the nftables table of cfg.
func table(cfg Config) *nftables.Table {
	return &nftables.Table{Name: cfg.Table, Family: nftables.TableFamilyINet}
}

// addRuleset queues the whole table of cfg on conn: a table of that name is
// first created (so that deleting it cannot fail), deleted, and created
// afresh, all in the batch conn.Flush sends.
func addRuleset(conn *nftables.Conn, cfg Config) {
	t := table(cfg)
	conn.AddTable(t)
	conn.DelTable(t)
	conn.AddTable(t)
	for _, name := range []string{counterServed, counterRefused, counterUnsolicited} {
		conn.AddObj(&nftables.NamedObj{Table: t, Name: name, Type: nftables.ObjTypeCounter, Obj: &expr.Counter{}})
	}
	// No l3proto: in an inet table the helper serves IPv4 and IPv6.
	conn.AddObj(&nftables.NamedObj{Table: t, Name: ftpHelper, Type: nftables.ObjTypeCtHelper,
		Obj: &expr.CtHelper{Name: "ftp", L4Proto: unix.IPPROTO_TCP}})

	accept := nftables.ChainPolicyAccept
	helpers := conn.AddChain(&nftables.Chain{Name: "helpers", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	forward := conn.AddChain(&nftables.Chain{Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	post := conn.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource, Policy: &accept})

	for _, exprs := range helperRules(cfg) {
		conn.AddRule(&nftables.Rule{Table: t, Chain: helpers, Exprs: exprs})
	}
	for _, exprs := range forwardRules(cfg) {
		conn.AddRule(&nftables.Rule{Table: t, Chain: forward, Exprs: exprs})
	}
	for _, exprs := range masqueradeRules(cfg) {
		conn.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: exprs})
	}
}

// helperRules: iifname TUN tcp dport 21 ct helper set "ftp".
func helperRules(cfg Config) [][]expr.Any {
	return [][]expr.Any{join(
		ifName(expr.MetaKeyIIFNAME, expr.CmpOpEq, cfg.Tun),
		tcpDport(ftpPort),
		[]expr.Any{&expr.Objref{Type: unix.NFT_OBJECT_CT_HELPER, Name: ftpHelper}},
	)}
}

// forwardRules, in order:
//
//	iifname TUN tcp flags & (syn|rst) == syn tcp option maxseg size set rt mtu
//	oifname TUN tcp flags & (syn|rst) == syn tcp option maxseg size set rt mtu
//	iifname TUN ip daddr SERVE counter name "served" accept     (one per prefix)
//	iifname TUN counter name "refused" drop
//	oifname TUN ct state established,related accept
//	oifname TUN counter name "unsolicited" drop
func forwardRules(cfg Config) [][]expr.Any {
	in := ifName(expr.MetaKeyIIFNAME, expr.CmpOpEq, cfg.Tun)
	out := ifName(expr.MetaKeyOIFNAME, expr.CmpOpEq, cfg.Tun)
	rules := [][]expr.Any{
		join(in, clampMSS()),
		join(out, clampMSS()),
	}
	for _, p := range cfg.Serve {
		rules = append(rules, join(in, prefix(p, false), count(counterServed), verdict(expr.VerdictAccept)))
	}
	return append(rules,
		join(in, count(counterRefused), verdict(expr.VerdictDrop)),
		join(out, ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), verdict(expr.VerdictAccept)),
		join(out, count(counterUnsolicited), verdict(expr.VerdictDrop)),
	)
}

// masqueradeRules: oifname != TUN ip saddr POOL masquerade, one per pool.
func masqueradeRules(cfg Config) [][]expr.Any {
	var rules [][]expr.Any
	for _, p := range cfg.Pools {
		rules = append(rules, join(
			ifName(expr.MetaKeyOIFNAME, expr.CmpOpNeq, cfg.Tun),
			prefix(p, true),
			[]expr.Any{&expr.Masq{}},
		))
	}
	return rules
}

// ifName matches the input or output interface's name (key) against name.
func ifName(key expr.MetaKey, op expr.CmpOp, name string) []expr.Any {
	b := make([]byte, ifNameSize)
	copy(b, name)
	return []expr.Any{
		&expr.Meta{Key: key, Register: reg},
		&expr.Cmp{Op: op, Register: reg, Data: b},
	}
}

// prefix matches the source (src) or destination address against p, and
// the packet's family to p's, as an inet table needs.
func prefix(p netip.Prefix, src bool) []expr.Any {
	family, offset := byte(unix.NFPROTO_IPV4), uint32(16) // IPv4 daddr
	switch {
	case p.Addr().Is4() && src:
		offset = 12
	case p.Addr().Is6() && src:
		family, offset = unix.NFPROTO_IPV6, 8
	case p.Addr().Is6():
		family, offset = unix.NFPROTO_IPV6, 24
	}
	exprs := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: reg},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: []byte{family}},
	}
	if p.Bits() == 0 {
		return exprs
	}
	size := uint32(p.Addr().BitLen() / 8)
	exprs = append(exprs, &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: size})
	if p.Bits() < p.Addr().BitLen() {
		exprs = append(exprs, &expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: size,
			Mask: prefixMask(p), Xor: make([]byte, size)})
	}
	return append(exprs, &expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: p.Masked().Addr().AsSlice()})
}

// prefixMask returns the network mask of p, in network byte order.
func prefixMask(p netip.Prefix) []byte {
	mask := make([]byte, p.Addr().BitLen()/8)
	for i := range p.Bits() {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	return mask
}

// tcpDport matches TCP packets to port.
func tcpDport(port uint16) []expr.Any {
	return append(isTCP(),
		&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: binaryutil.BigEndian.PutUint16(port)},
	)
}

// isTCP matches TCP packets.
func isTCP() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: []byte{unix.IPPROTO_TCP}},
	}
}

// clampMSS: tcp flags & (syn|rst) == syn tcp option maxseg size set rt mtu.
// The kernel only ever lowers an MSS this way, never raises it.
func clampMSS() []expr.Any {
	return append(isTCP(),
		&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: tcpFlagsOffset, Len: 1},
		&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 1, Mask: []byte{tcpFlagSYN | tcpFlagRST}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: []byte{tcpFlagSYN}},
		&expr.Rt{Register: reg, Key: expr.RtTCPMSS},
		&expr.Byteorder{SourceRegister: reg, DestRegister: reg, Op: expr.ByteorderHton, Len: maxsegLen, Size: maxsegLen},
		&expr.Exthdr{SourceRegister: reg, Type: tcpOptMaxseg, Offset: maxsegOffset, Len: maxsegLen, Op: expr.ExthdrOpTcpopt},
	)
}

// ctState matches connections whose conntrack state has any of bits.
func ctState(bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: reg, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 4,
			Mask: binary.NativeEndian.AppendUint32(nil, bits), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: reg, Data: make([]byte, 4)},
	}
}

// count adds the packet to the table's named counter.
func count(name string) []expr.Any {
	return []expr.Any{&expr.Objref{Type: unix.NFT_OBJECT_COUNTER, Name: name}}
}

// verdict ends the rule with kind (accept, drop).
func verdict(kind expr.VerdictKind) []expr.Any {
	return []expr.Any{&expr.Verdict{Kind: kind}}
}

// join concatenates expression lists into one rule, copying.
func join(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
