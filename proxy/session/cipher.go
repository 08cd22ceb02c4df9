package session

import (
	"crypto/aes"
	"crypto/cipher"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/sys/cpu"
)

// The data AEADs. Noise's ChaCha20-Poly1305 runs the handshake on every
// host; for data, a session between two hosts that both have AES-GCM
// instructions (FlagAESGCM in both handshake payloads, which Noise
// authenticates, so nobody can downgrade it unseen) uses AES-256-GCM under the
// same keys. Both take a 32-byte key and a 12-byte nonce and add a 16-byte
// tag, so frames have one layout.

// hasAESGCM reports whether this CPU runs AES-GCM in hardware: AES and
// carry-less multiplication instructions, which Go's crypto/aes uses.
var hasAESGCM = cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ ||
	cpu.ARM64.HasAES && cpu.ARM64.HasPMULL ||
	cpu.S390X.HasAES && cpu.S390X.HasAESGCM

// hardwareFlags are the handshake flags this host adds on its own.
func hardwareFlags() Flags {
	if hasAESGCM {
		return FlagAESGCM
	}
	return 0
}

func newChaCha(key []byte) cipher.AEAD {
	a, err := chacha20poly1305.New(key)
	if err != nil {
		panic("session: " + err.Error()) // only a wrong key size fails
	}
	return a
}

func newAESGCM(key []byte) cipher.AEAD {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic("session: " + err.Error())
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		panic("session: " + err.Error())
	}
	return a
}
