// Package udpgso sends and receives batches of UDP datagrams with the Linux
// kernel's UDP segmentation offloads: UDP_SEGMENT (GSO) on send, UDP_GRO on
// receive. It is the difference between one trip through the network stack
// per datagram and one per up to 64 datagrams, which is what a bulk transfer
// through the overlay (a TCP stream split into equal-sized tunnel datagrams)
// spends most of its time on (docs/benchmarks.md).
//
// A Conn wraps a socket's batch calls (internal/mmsg's recvmmsg and
// sendmmsg, which keep the signatures of golang.org/x/net's PacketConn), so
// that the client and the server use it where they used those:
//
//   - WriteBatch coalesces runs of consecutive messages to the same address
//     whose lengths are equal (the last of a run may be shorter) into one
//     message whose iovecs are theirs, with a UDP_SEGMENT control message;
//     the kernel cuts it back into the same datagrams, so a receiver without
//     GRO sees exactly what it would have seen without the offload.
//   - ReadBatch receives into buffers of its own that hold a coalesced
//     datagram of up to 64 KiB and hands out its segments one by one in the
//     caller's messages, across calls when they do not all fit.
//
// Where the kernel refuses (no UDP_SEGMENT, a device without checksum
// offload, a segment larger than the path allows), a Conn falls back to one
// datagram per message for that run and, for errors that will repeat, for
// good: no datagram is lost to the offload. On other systems, a Conn passes
// the calls through.
//
// What it must not know: the overlay's wire format; it moves datagrams.
package udpgso
