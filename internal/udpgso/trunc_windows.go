//go:build windows

package udpgso

// MsgTrunc marks a datagram cut to its buffer (MSG_TRUNC of ws2def.h; the
// syscall package has none for Windows).
const MsgTrunc = 0x0100
