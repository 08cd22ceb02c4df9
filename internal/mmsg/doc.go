// Package mmsg receives and sends batches of UDP datagrams with one system
// call per batch (recvmmsg, sendmmsg) and no allocation per call.
//
// It does what the ReadBatch and WriteBatch of golang.org/x/net's ipv4 and
// ipv6 PacketConns do, with the same types and the same meaning of every
// field, except for who owns the source addresses: x/net allocates a
// *net.UDPAddr for every datagram it receives; a Conn sets Addr to a
// *net.UDPAddr of its own, one per message slot, which it overwrites on the
// next ReadBatch. A caller converts it (to a netip.AddrPort) or copies it
// before reading again.
//
// A Conn works over the socket's syscall.RawConn, so reads and writes wait in
// the runtime's network poller like those of net.UDPConn, and deadlines and
// Close apply to them. Its headers, iovecs and socket addresses are allocated
// on first use, grown when a larger batch comes, and reused.
//
// On systems other than Linux, New returns x/net's PacketConn, which reads
// and writes one datagram per call.
//
// What it must not know: what the datagrams hold; it moves them.
package mmsg
