package dns

import mdns "github.com/miekg/dns"

// MinUDPSize is the size every DNS client accepts over UDP (RFC 1035 §4.2.1):
// the limit for a query without EDNS0.
const MinUDPSize = 512

// UDPLimit returns the largest answer the sender of query accepts over UDP:
// the payload size of its EDNS0 record, at least MinUDPSize, or MinUDPSize
// without one (or when query does not parse).
func UDPLimit(query []byte) int {
	var q mdns.Msg
	if q.Unpack(query) != nil {
		return MinUDPSize
	}
	if opt := q.IsEdns0(); opt != nil && int(opt.UDPSize()) > MinUDPSize {
		return int(opt.UDPSize())
	}
	return MinUDPSize
}

// FitUDP returns resp, the answer to query, as it may go back over UDP: resp
// itself when it fits UDPLimit(query) (answers up to 512 bytes are returned
// without looking at query, and without allocating), else a new, shorter
// answer with the TC bit set, which tells the program to ask again over TCP.
// The shorter answer keeps the header, the question, the EDNS0 record and as
// many whole records as fit (miekg/dns Msg.Truncate); an answer that does not
// parse is cut to its header, with TC set and no records.
func FitUDP(query, resp []byte) []byte {
	if len(resp) <= MinUDPSize {
		return resp
	}
	limit := UDPLimit(query)
	if len(resp) <= limit {
		return resp
	}
	var m mdns.Msg
	if err := m.Unpack(resp); err == nil {
		m.Truncate(limit)
		m.Truncated = true
		if out, err := m.Pack(); err == nil && len(out) <= limit {
			return out
		}
	}
	out := append([]byte(nil), resp[:headerLen]...)
	out[2] |= 0x02          // TC
	clear(out[4:headerLen]) // no question, no records
	return out
}
