package mmsg

import (
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// headers is one call's arguments to recvmmsg or sendmmsg: a header per
// message, the messages' iovecs back to back and a socket address per
// message, kept from call to call and grown when a batch needs more.
type headers struct {
	hs  []unix.Mmsghdr
	iov []unix.Iovec
	sa  []unix.RawSockaddrInet6 // large enough for either family

	// The call in progress, for the RawConn callbacks, which are bound once
	// (a method value made per call would be allocated).
	count int // messages to move
	flags int
	bytes int // the bytes of the buffers packed: for a write, what it carries
	n     int // messages moved, -1 on an error
	errno unix.Errno
	recvF func(fd uintptr) bool
	sendF func(fd uintptr) bool
}

func newHeaders() *headers {
	h := new(headers)
	h.recvF = h.recv
	h.sendF = h.send
	return h
}

// grow makes room for ms.
func (h *headers) grow(ms []ipv4.Message) {
	if len(ms) > len(h.hs) {
		h.hs = make([]unix.Mmsghdr, len(ms))
		h.sa = make([]unix.RawSockaddrInet6, len(ms))
	}
	nb := 0
	for i := range ms {
		nb += len(ms[i].Buffers)
	}
	if nb > len(h.iov) {
		h.iov = make([]unix.Iovec, nb)
	}
}

// pack points the headers at ms's buffers and control space. For a read,
// every header gets a socket address for the kernel to fill; for a write,
// the one marshalled from Addr, or none when Addr is not a *net.UDPAddr
// (a connected socket's peer).
func (h *headers) pack(ms []ipv4.Message, write bool) {
	h.grow(ms)
	iov := h.iov
	h.bytes = 0
	for i := range ms {
		m, hdr := &ms[i], &h.hs[i]
		hdr.Len = 0
		hdr.Hdr = unix.Msghdr{}
		bs := m.Buffers
		if len(bs) > 0 {
			v := iov[:len(bs)]
			iov = iov[len(bs):]
			for j, b := range bs {
				v[j] = unix.Iovec{}
				if len(b) > 0 {
					v[j].Base = &b[0]
					v[j].SetLen(len(b))
					h.bytes += len(b)
				}
			}
			hdr.Hdr.Iov = &v[0]
			hdr.Hdr.SetIovlen(len(v))
		}
		if len(m.OOB) > 0 {
			hdr.Hdr.Control = &m.OOB[0]
			hdr.Hdr.SetControllen(len(m.OOB))
		}
		sa := &h.sa[i]
		namelen := unix.SizeofSockaddrInet6
		if write {
			namelen = putSockaddr(sa, m.Addr)
		}
		if namelen > 0 {
			hdr.Hdr.Name = (*byte)(unsafe.Pointer(sa))
			hdr.Hdr.Namelen = uint32(namelen)
		}
	}
}

// unpack fills in what the kernel reported for the first n messages: the
// bytes moved, the control bytes and the flags.
func (h *headers) unpack(ms []ipv4.Message, n int) {
	for i := range n {
		m, hdr := &ms[i], &h.hs[i]
		m.N = int(hdr.Len)
		m.NN = int(hdr.Hdr.Controllen)
		m.Flags = int(hdr.Hdr.Flags)
	}
}

// release drops the references to the caller's buffers that pack made for
// ms, so that pooled headers do not keep them alive.
func (h *headers) release(ms []ipv4.Message) {
	nb := 0
	for i := range ms {
		nb += len(ms[i].Buffers)
		h.hs[i].Hdr.Control = nil
	}
	clear(h.iov[:nb])
}

// recv is the RawConn.Read callback: one recvmmsg into all of hs.
func (h *headers) recv(fd uintptr) bool {
	return h.call(unix.SYS_RECVMMSG, fd)
}

// send is the RawConn.Write callback: one sendmmsg of all of hs.
func (h *headers) send(fd uintptr) bool {
	return h.call(unix.SYS_SENDMMSG, fd)
}

// rawSendMax is the most a sendmmsg may carry to be made as a raw system
// call (RawSyscall6), which skips the runtime's entry to and exit from a
// system call. That entry wakes the runtime's monitor thread when the process
// was idle, and lets the monitor hand the processor to another thread should
// the call last, and on a virtual machine each such wake-up is dear: with
// raw sends of up to 16 KB (and raw tun reads in the proxy), a ping through
// a shortcut took 0.52–0.57 ms rather than 0.72–0.75, 64-byte datagrams
// through a relay went 25 % faster and a relayed TCP stream 14 %
// (docs/benchmarks.md, fifth sitting). A larger batch (a bulk transfer's
// chunks, tens of kilobytes each call) keeps the ordinary call: its copy
// and delivery last long enough for another goroutine to want the
// processor meanwhile. A send on a socket that does not block cannot wait
// in the kernel, which is what a raw call requires. Reads keep the ordinary
// call too: one read may move up to half a megabyte (udpgso), and raw reads
// measured slower for a relayed stream.
const rawSendMax = 16 << 10

// rawCall reports whether call makes trap, with h packed, as a raw system
// call.
func (h *headers) rawCall(trap uintptr) bool {
	return trap == unix.SYS_SENDMMSG && h.bytes <= rawSendMax
}

// call makes the system call trap on fd with the packed headers, again when a
// signal interrupted it, and reports whether it is done: not when the socket
// would block and the caller did not ask for MSG_DONTWAIT (the runtime's
// poller then waits for the socket and calls again).
func (h *headers) call(trap, fd uintptr) bool {
	syscall6 := unix.Syscall6
	if h.rawCall(trap) {
		syscall6 = unix.RawSyscall6
	}
	for {
		r, _, e := syscall6(trap, fd, uintptr(unsafe.Pointer(&h.hs[0])), uintptr(h.count), uintptr(h.flags), 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			h.n, h.errno = -1, e
			return (e != unix.EAGAIN && e != unix.EWOULDBLOCK) || h.flags&unix.MSG_DONTWAIT != 0
		}
		h.n, h.errno = int(r), 0
		return true
	}
}
