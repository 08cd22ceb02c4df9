// Package id holds i3's 256-bit identifiers and the rule that matches a packet's
// id against a trigger's.
//
// An id is 32 bytes: bytes 0–7 are a prefix whose lowest bit of byte 7 marks a
// public id, bytes 8–23 complete the 128 bits every match must share, bytes
// 24–31 are a suffix. A packet id matches a trigger id when at least
// max(128, trigger prefix length) leading bits are equal; among the matches the
// longest common prefix wins, and triggers with equal ids all receive the packet
// (multicast). Triggers that share the first 128 bits but differ after them form
// an anycast group.
//
// Ids are values ([32]byte): comparable, usable as map keys, never allocated.
// The package knows nothing of the wire format or of servers.
package id
