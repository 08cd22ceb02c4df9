package dns

import (
	"encoding/binary"
	"net/netip"
	"sync"

	mdns "github.com/miekg/dns"
)

// The fast path answers the common query for an overlay name (one question,
// a name of plain labels, at most an OPT record without options) straight
// from and into bytes, without allocating; everything else takes the
// general path through miekg/dns, whose answer it gives byte for byte
// (FuzzFastAnswer checks it).

// fastQuery is what the fast path reads of a query.
type fastQuery struct {
	id       uint16
	flags    uint16 // RD and CD, the bits an answer repeats
	question []byte // the question as sent: name, type, class
	rawName  []byte // the name as sent, in wire form
	qtype    uint16
	qclass   uint16
	edns     bool
	name     [maxNameText]byte // the name in lower case, text form with the final dot
	nameLen  int
}

// maxNameText is the longest name in text form the fast path takes.
const maxNameText = 255

// Header flag bits (RFC 1035 §4.1.1).
const (
	flagQR     = 1 << 15
	flagOpcode = 0xf << 11
	flagAA     = 1 << 10
	flagRD     = 1 << 8
	flagRA     = 1 << 7
	flagCD     = 1 << 4
)

// maxLabels bounds the interned labels: only names the resolvers know are
// interned, so it is reached only by an address book of that size.
const maxLabels = 4096

// labels interns the labels of known names, so that asking a resolver for
// a name read from bytes costs no allocation.
type labels struct {
	mu sync.RWMutex
	m  map[string]string
}

// get returns b as a string: the interned one if there is one.
func (l *labels) get(b []byte) (string, bool) {
	l.mu.RLock()
	s, ok := l.m[string(b)]
	l.mu.RUnlock()
	if ok {
		return s, true
	}
	return string(b), false
}

// keep interns s, unless the table is full.
func (l *labels) keep(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = make(map[string]string)
	}
	if len(l.m) < maxLabels {
		l.m[s] = s
	}
}

// parseFast reads query into fq; false when the query is not of the shape
// the fast path answers (the general path then decides).
func parseFast(query []byte, fq *fastQuery) bool {
	if len(query) < headerLen {
		return false
	}
	flags := binary.BigEndian.Uint16(query[2:])
	qd, an, ns, ar := binary.BigEndian.Uint16(query[4:]), binary.BigEndian.Uint16(query[6:]),
		binary.BigEndian.Uint16(query[8:]), binary.BigEndian.Uint16(query[10:])
	// A query (QR clear), opcode QUERY, one question, nothing else but EDNS.
	if flags&(flagQR|flagOpcode) != 0 || qd != 1 || an != 0 || ns != 0 || ar > 1 {
		return false
	}
	fq.id = binary.BigEndian.Uint16(query)
	fq.flags = flags & (flagRD | flagCD)
	off, ok := fq.readName(query, headerLen)
	if !ok || len(query) < off+4 {
		return false
	}
	fq.rawName = query[headerLen:off]
	fq.qtype = binary.BigEndian.Uint16(query[off:])
	fq.qclass = binary.BigEndian.Uint16(query[off+2:])
	off += 4
	fq.question = query[headerLen:off]
	fq.edns = ar == 1
	if fq.edns {
		// The root name, OPT, any payload size, version 0 (BADVERS is the
		// general path's), no options.
		if len(query) != off+11 || query[off] != 0 || binary.BigEndian.Uint16(query[off+1:]) != mdns.TypeOPT ||
			query[off+6] != 0 || binary.BigEndian.Uint16(query[off+9:]) != 0 {
			return false
		}
		off += 11
	}
	return off == len(query)
}

// readName reads the uncompressed name at off in wire form into fq.name, in
// lower case text form, and returns the offset after it; false for a
// compression pointer, the root alone, or a byte other than a letter, a
// digit, '-' or '_' (which text form would escape).
func (fq *fastQuery) readName(msg []byte, off int) (int, bool) {
	n := 0
	for {
		if off >= len(msg) {
			return 0, false
		}
		l := int(msg[off])
		off++
		if l == 0 {
			break
		}
		if l > 63 || off+l > len(msg) || n+l+1 > maxNameText {
			return 0, false
		}
		for _, c := range msg[off : off+l] {
			switch {
			case c >= 'A' && c <= 'Z':
				c += 'a' - 'A'
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			default:
				return 0, false
			}
			fq.name[n] = c
			n++
		}
		fq.name[n] = '.'
		n++
		off += l
	}
	fq.nameLen = n
	return off, n > 0
}

// overlayLabelBytes is overlayLabel on a name in bytes: its zone
// and the part before the suffix, nil for the suffix itself.
func (r *Responder) overlayLabelBytes(name []byte) (*zone, []byte, bool) {
	for i := range r.zones {
		z := &r.zones[i]
		if string(name) == z.apex {
			return z, nil, true
		}
		if len(name) > len(z.suffix) && string(name[len(name)-len(z.suffix):]) == z.suffix {
			return z, name[:len(name)-len(z.suffix)], true
		}
	}
	return nil, nil, false
}

// answerFast answers query into dst's capacity when the fast path takes it
// (handled true).
func (r *Responder) answerFast(query, dst []byte) (resp []byte, handled bool) {
	var fq fastQuery
	if !parseFast(query, &fq) {
		return nil, false
	}
	z, label, overlay := r.overlayLabelBytes(fq.name[:fq.nameLen])
	if !overlay || label == nil {
		return nil, false
	}
	name, interned := r.labels.get(label)
	v4, v6, ok := z.res.ResolveOverlay(name)
	if ok && !interned {
		r.labels.keep(name)
	}
	rcode := mdns.RcodeSuccess
	if !ok {
		rcode = mdns.RcodeNameError
	}
	var rrs [2]netip.Addr
	answers := rrs[:0]
	if ok && (fq.qclass == mdns.ClassINET || fq.qclass == mdns.ClassANY) {
		t := fq.qtype
		if (t == mdns.TypeA || t == mdns.TypeANY) && v4.Is4() {
			answers = append(answers, v4)
		}
		if (t == mdns.TypeAAAA || t == mdns.TypeANY) && v6.Is6() {
			answers = append(answers, v6)
		}
	}
	return r.packFast(&fq, rcode, answers, dst[:0]), true
}

// packFast appends to b the answer to fq with rcode and an A or AAAA record
// per address, as the general path packs it: the question repeated, each
// record's name in full, and an OPT record when the query had one.
func (r *Responder) packFast(fq *fastQuery, rcode int, addrs []netip.Addr, b []byte) []byte {
	ar := 0
	if fq.edns {
		ar = 1
	}
	b = binary.BigEndian.AppendUint16(b, fq.id)
	b = binary.BigEndian.AppendUint16(b, flagQR|flagAA|flagRA|fq.flags|uint16(rcode))
	b = binary.BigEndian.AppendUint16(b, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(addrs)))
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(ar))
	b = append(b, fq.question...)
	for _, a := range addrs {
		b = append(b, fq.rawName...)
		rtype, rdata := mdns.TypeA, 4
		if a.Is6() {
			rtype, rdata = mdns.TypeAAAA, 16
		}
		b = binary.BigEndian.AppendUint16(b, rtype)
		b = binary.BigEndian.AppendUint16(b, mdns.ClassINET)
		b = binary.BigEndian.AppendUint32(b, r.ttl)
		b = binary.BigEndian.AppendUint16(b, uint16(rdata))
		if a.Is4() {
			x := a.As4()
			b = append(b, x[:]...)
		} else {
			x := a.As16()
			b = append(b, x[:]...)
		}
	}
	if fq.edns {
		b = append(b, 0)
		b = binary.BigEndian.AppendUint16(b, mdns.TypeOPT)
		b = binary.BigEndian.AppendUint16(b, ednsUDPSize)
		b = binary.BigEndian.AppendUint32(b, 0)
		b = binary.BigEndian.AppendUint16(b, 0)
	}
	return b
}
