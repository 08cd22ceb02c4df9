package id

// The constrained triggers of the original Berkeley i3 (2004). Its servers
// accept a trigger (id, target) only if the trigger's key ties it to its
// target: the l-constraint, id.key = H_l(target), for any id; or, for a
// private id, the r-constraint, target.key = H_r(id). An id's key is its bytes
// 8–23; an IP target's key is the trigger's 16-byte key field; a stack
// target's is the key of its first id. Here "H_l(target)" is h_l of the key
// field for an IP target and the 256-bit H_l of the first id for a stack.
//
// h_l and h_r are 128-bit one-way functions: AES-128 of the input under a
// fixed published key (one for each), XORed with the input. H_l and H_r
// extend them to an id: h(first 8 bytes of h(x[0:16]) ‖ last 8 bytes of
// h(x[16:32])). This is what the original's aeshash/aeshash.c and
// i3/i3_trigger.c (generate_constraint_id, check_constraint) compute;
// testdata/constraint-vectors.txt holds values printed by that code.

import (
	"crypto/aes"
	"crypto/cipher"
)

const (
	// ConstraintKeyLen is the size of a constraint key in bytes.
	ConstraintKeyLen = 16
	// constraintKeyAt is where an id's constraint key starts.
	constraintKeyAt = 8
)

// ConstraintKey is a 128-bit key of the original's constrained triggers: an
// id's bytes 8–23, or the key field of a trigger on an IP target.
type ConstraintKey [ConstraintKeyLen]byte

// The original's fixed AES-128 keys of h_l and h_r (aeshash/aeshash.c).
var (
	hashLKey = [16]byte{0x23, 0xce, 0x45, 0x19, 0xc5, 0xb6, 0xb5, 0x82,
		0x19, 0x14, 0x36, 0x26, 0xa4, 0xe0, 0x9c, 0xa2}
	hashRKey = [16]byte{0x20, 0xce, 0x49, 0x19, 0xc5, 0xb6, 0xd5, 0xe2,
		0xb6, 0x1d, 0xf6, 0x56, 0xa5, 0xef, 0xfc, 0xe2}
	hashL = mustAES(hashLKey)
	hashR = mustAES(hashRKey)
)

func mustAES(k [16]byte) cipher.Block {
	b, err := aes.NewCipher(k[:])
	if err != nil { // a 16-byte key is always valid
		return nil
	}
	return b
}

// hash128 is the original's aeshash_type: AES under b, XOR the input.
func hash128(b cipher.Block, in ConstraintKey) ConstraintKey {
	var out ConstraintKey
	b.Encrypt(out[:], in[:])
	for i := range out {
		out[i] ^= in[i]
	}
	return out
}

// hash256 is the original's generate_constraint_id: an id to 128 bits.
func hash256(b cipher.Block, x ID) ConstraintKey {
	k1 := hash128(b, ConstraintKey(x[:16]))
	k2 := hash128(b, ConstraintKey(x[16:]))
	copy(k1[8:], k2[8:])
	return hash128(b, k1)
}

// HashL is the original's h_l of a 128-bit key (aeshash_l).
func HashL(k ConstraintKey) ConstraintKey { return hash128(hashL, k) }

// HashR is the original's h_r of a 128-bit key (aeshash_r).
func HashR(k ConstraintKey) ConstraintKey { return hash128(hashR, k) }

// HashIDL is the original's H_l of an id (generate_l_constraint_id).
func HashIDL(x ID) ConstraintKey { return hash256(hashL, x) }

// HashIDR is the original's H_r of an id (generate_r_constraint_id).
func HashIDR(x ID) ConstraintKey { return hash256(hashR, x) }

// ConstraintKey returns x's bytes 8–23, the part the constraints bind.
func (x ID) ConstraintKey() ConstraintKey {
	return ConstraintKey(x[constraintKeyAt : constraintKeyAt+ConstraintKeyLen])
}

// WithConstraintKey returns x with bytes 8–23 replaced by k: an id that
// satisfies the l-constraint toward a target is
// x.WithConstraintKey(HashL(key)) or x.WithConstraintKey(HashIDL(first)).
func (x ID) WithConstraintKey(k ConstraintKey) ID {
	copy(x[constraintKeyAt:], k[:])
	return x
}

// SatisfiesConstraintIP reports whether a trigger on x with an IP target and
// key field key passes the original's check_constraint: x's key is
// HashL(key), or x is private and key is HashIDR(x).
func SatisfiesConstraintIP(x ID, key ConstraintKey) bool {
	if x.ConstraintKey() == HashL(key) {
		return true
	}
	return !x.IsPublic() && key == HashIDR(x)
}

// SatisfiesConstraintStack reports whether a trigger on x whose target stack
// starts with first passes the original's check_constraint: x's key is
// HashIDL(first), or x is private and first's key is HashIDR(x).
func SatisfiesConstraintStack(x, first ID) bool {
	if x.ConstraintKey() == HashIDL(first) {
		return true
	}
	return !x.IsPublic() && first.ConstraintKey() == HashIDR(x)
}
