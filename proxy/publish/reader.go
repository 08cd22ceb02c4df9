package publish

import (
	"encoding/binary"
	"net/netip"
)

// reader reads a message's fields; the first short or bad field sets err
// and every later read returns zero.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() { r.err, r.b = ErrMalformed, nil }

func (r *reader) take(n int) []byte {
	if r.err != nil || len(r.b) < n {
		r.fail()
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) byte() byte {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if b := r.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *reader) str() string { return string(r.take(int(r.byte()))) }

// header reads the version and a count of at most MaxServices.
func (r *reader) header() int {
	if r.byte() != wireVersion {
		r.fail()
	}
	n := int(r.byte())
	if n > MaxServices {
		r.fail()
	}
	return n
}

func (r *reader) addrPort() netip.AddrPort {
	var ip netip.Addr
	switch r.byte() {
	case 4:
		ip, _ = netip.AddrFromSlice(r.take(4))
	case 6:
		ip, _ = netip.AddrFromSlice(r.take(16))
	default:
		r.fail()
	}
	return netip.AddrPortFrom(ip, r.u16())
}

// done reports the first error, or ErrMalformed if bytes are left over.
func (r *reader) done() error {
	if r.err == nil && len(r.b) > 0 {
		r.fail()
	}
	return r.err
}
