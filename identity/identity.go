// Package identity holds a host's identity: one Ed25519 key whose public half
// names the host. The public id (id.FromPublicKey) is what the host's public
// trigger uses, the same key signs public-id insertions, and its X25519 form is
// the static key of the proxy handshake. The address book stores public keys, so
// a name pins a key, not just an id: nobody else can answer for it.
//
// Keys are shown to people in bech32m (BIP 350) with the prefix "i3pk": 63
// characters whose checksum catches a typo and says where it is (key.go).
package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/atomicfile"
)

// Identity is a host's private key.
type Identity struct {
	priv ed25519.PrivateKey
}

// Generate returns a new random identity.
func Generate() (*Identity, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identity: generate key: %w", err)
	}
	return &Identity{priv: priv}, nil
}

// FromSeed returns the identity of a 32-byte Ed25519 seed (for tests and for
// keys kept elsewhere).
func FromSeed(seed []byte) (*Identity, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("identity: seed of %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	return &Identity{priv: ed25519.NewKeyFromSeed(seed)}, nil
}

// PrivateKey returns the Ed25519 private key (for signing insertions).
func (x *Identity) PrivateKey() ed25519.PrivateKey { return x.priv }

// Public returns the public key.
func (x *Identity) Public() PublicKey {
	var k PublicKey
	copy(k[:], x.priv.Public().(ed25519.PublicKey))
	return k
}

// ID returns the host's public id.
func (x *Identity) ID() id.ID { return x.Public().ID() }

// X25519 returns the static private key of the proxy handshake: the clamped
// scalar Ed25519 derives from the seed (RFC 8032 §5.1.5), whose public half is
// Public().X25519().
func (x *Identity) X25519() [32]byte {
	h := sha512.Sum512(x.priv.Seed())
	var s [32]byte
	copy(s[:], h[:32])
	s[0] &= 248
	s[31] &= 127
	s[31] |= 64
	return s
}

// String shows the public key only, so the private key never reaches a log.
func (x *Identity) String() string { return "identity(" + x.Public().String() + ")" }

const pemType = "I3NET ED25519 PRIVATE KEY"

// Save writes x to path atomically (temp file + rename) with mode 0600,
// creating its directory (mode 0700) if needed.
func (x *Identity) Save(path string) error {
	data := pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: x.priv.Seed()})
	if err := atomicfile.Write(path, data, 0o600, atomicfile.Options{MkdirPerm: 0o700}); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	return nil
}

// Load reads an identity written by Save.
func Load(path string) (*Identity, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != pemType {
		return nil, fmt.Errorf("identity: %s: not an i3net identity (want a PEM block %q)", path, pemType)
	}
	x, err := FromSeed(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("identity: %s: %w", path, err)
	}
	return x, nil
}

// LoadOrCreate loads the identity at path, or creates and saves a new one if the
// file does not exist. created reports which happened.
func LoadOrCreate(path string) (x *Identity, created bool, err error) {
	x, err = Load(path)
	if err == nil {
		return x, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	if x, err = Generate(); err != nil {
		return nil, false, err
	}
	return x, true, x.Save(path)
}
