package identity

import (
	"crypto/ecdh"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestX25519Agrees(t *testing.T) {
	for range 5 {
		x, _ := Generate()
		pubFromEd, err := x.Public().X25519()
		if err != nil {
			t.Fatal(err)
		}
		pubFromPriv, err := ecdhPublic(x.X25519())
		if err != nil {
			t.Fatal(err)
		}
		if pubFromEd != pubFromPriv {
			t.Fatal("X25519 public key from Ed25519 public key differs from the one of the private scalar")
		}
	}
}

func TestSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "identity.pem")
	x, created, err := LoadOrCreate(path)
	if err != nil || !created {
		t.Fatalf("LoadOrCreate: %v %v", created, err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", st.Mode(), err)
	}
	y, created, err := LoadOrCreate(path)
	if err != nil || created || y.Public() != x.Public() {
		t.Fatalf("reload: %v %v", created, err)
	}
	os.WriteFile(path, []byte("junk"), 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load(junk) = %v", err)
	}
}

// ecdhPublic is used by tests: the X25519 private key must produce the public key
// derived from the Ed25519 public key.
func ecdhPublic(priv [32]byte) ([32]byte, error) {
	var out [32]byte
	k, err := ecdh.X25519().NewPrivateKey(priv[:])
	if err != nil {
		return out, err
	}
	copy(out[:], k.PublicKey().Bytes())
	return out, nil
}
