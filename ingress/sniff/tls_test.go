package sniff

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"testing"
	"testing/iotest"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// captureClientHello returns the first record crypto/tls's client writes with
// cfg: its whole ClientHello.
func captureClientHello(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	server, client := net.Pipe()
	defer server.Close()
	_ = server.SetDeadline(time.Now().Add(10 * time.Second))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = tls.Client(client, cfg).Handshake()
	}()
	header := make([]byte, recordHeaderLen)
	if _, err := io.ReadFull(server, header); err != nil {
		t.Fatalf("reading the ClientHello: %v", err)
	}
	record := make([]byte, recordHeaderLen+(int(header[3])<<8|int(header[4])))
	copy(record, header)
	if _, err := io.ReadFull(server, record[recordHeaderLen:]); err != nil {
		t.Fatalf("reading the ClientHello: %v", err)
	}
	client.Close()
	<-done
	return record
}

// reframe splits the handshake bytes of the records in hello into records of
// at most size bytes each.
func reframe(hello []byte, size int) []byte {
	var handshake, out []byte
	for rest := hello; len(rest) >= recordHeaderLen; {
		n := int(rest[3])<<8 | int(rest[4])
		handshake = append(handshake, rest[recordHeaderLen:recordHeaderLen+n]...)
		rest = rest[recordHeaderLen+n:]
	}
	for len(handshake) > 0 {
		n := min(size, len(handshake))
		out = append(out, recordTypeHandshake, hello[1], hello[2], byte(n>>8), byte(n))
		out = append(out, handshake[:n]...)
		handshake = handshake[n:]
	}
	return out
}

// cryptoTLSServerName is what crypto/tls's server reads as the SNI of hello,
// or an error when it refuses the ClientHello.
func cryptoTLSServerName(hello []byte) (string, error) {
	name, got := "", errors.New("no ClientHello parsed")
	cfg := &tls.Config{GetConfigForClient: func(info *tls.ClientHelloInfo) (*tls.Config, error) {
		name, got = info.ServerName, nil
		return nil, errors.New("enough")
	}}
	_ = tls.Server(&replayConn{r: bytes.NewReader(hello)}, cfg).Handshake()
	return name, got
}

func TestTLSServerNameRealClient(t *testing.T) {
	tests := []struct {
		name string
		cfg  *tls.Config
		want string
		err  error
	}{
		{"SNI", &tls.Config{ServerName: "home.i3.example.net"}, "home.i3.example.net", nil},
		{"SNI upper case", &tls.Config{ServerName: "WWW.Home.I3.Example.Net"}, "www.home.i3.example.net", nil},
		{"TLS 1.2 only", &tls.Config{ServerName: "a.example", MaxVersion: tls.VersionTLS12}, "a.example", nil},
		{"no ServerName", &tls.Config{InsecureSkipVerify: true}, "", ErrNoName},
		{"IP address", &tls.Config{ServerName: "192.0.2.1"}, "", ErrNoName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hello := captureClientHello(t, tt.cfg)
			for _, size := range []int{1 << 14, 1000, 100, 7, 1} {
				data := reframe(hello, size)
				if _, err := cryptoTLSServerName(data); err != nil {
					t.Fatalf("crypto/tls refuses the ClientHello in records of %d: %v", size, err)
				}
				name, err := sniffBytes(t, TLSServerName, bytes.NewReader(data), data, 1<<16, 1<<16)
				checkResult(t, name, err, tt.want, tt.err)
				name, err = sniffBytes(t, TLSServerName, iotest.OneByteReader(bytes.NewReader(data)), data, 1<<16, 1<<16)
				checkResult(t, name, err, tt.want, tt.err)
			}
		})
	}
}

// TestTLSServerNameThenHandshake sniffs a live client's ClientHello from a pipe
// and then completes the TLS handshake over the same reader: nothing was lost.
func TestTLSServerNameThenHandshake(t *testing.T) {
	cert, pool := selfSigned(t, "home.i3.example.net")
	server, client := net.Pipe()
	defer server.Close()
	defer client.Close()
	deadline := time.Now().Add(10 * time.Second)
	_ = server.SetDeadline(deadline)
	_ = client.SetDeadline(deadline)
	clientDone := make(chan error, 1)
	go func() {
		c := tls.Client(client, &tls.Config{ServerName: "home.i3.example.net", RootCAs: pool})
		if err := c.Handshake(); err != nil {
			clientDone <- err
			return
		}
		_, err := c.Write([]byte("hello"))
		clientDone <- err
	}()
	br := bufio.NewReaderSize(server, 4096)
	name, err := TLSServerName(br, 4096)
	checkResult(t, name, err, "home.i3.example.net", nil)
	s := tls.Server(&readerConn{Conn: server, r: br}, &tls.Config{Certificates: []tls.Certificate{cert}})
	got := make([]byte, 5)
	if _, err := io.ReadFull(s, got); err != nil || string(got) != "hello" {
		t.Fatalf("after sniffing, the server read %q, %v", got, err)
	}
	if err := <-clientDone; err != nil {
		t.Fatalf("client: %v", err)
	}
}

func TestTLSServerNameRefuses(t *testing.T) {
	hello := captureClientHello(t, &tls.Config{ServerName: "a.example"})
	alertAfterFragment := append(reframe(hello, 10)[:15], 21, 3, 3, 0, 2, 2, 40)
	serverHello := bytes.Clone(hello)
	serverHello[recordHeaderLen] = 2
	tests := []struct {
		name string
		data []byte
		err  error
	}{
		{"HTTP", []byte(curlHead), ErrNotTLS},
		{"application data", []byte{23, 3, 3, 0, 1, 0}, ErrNotTLS},
		{"SSLv2 hello", []byte{0x80, 0x2e, 1, 3, 1}, ErrNotTLS},
		{"record version 2", append([]byte{22, 2, 0}, hello[3:]...), ErrNotTLS},
		{"empty record", []byte{22, 3, 1, 0, 0, 22, 3, 1, 0, 1, 1}, ErrNotTLS},
		{"record too large", []byte{22, 3, 1, 0x40, 1}, ErrNotTLS},
		{"alert inside", alertAfterFragment, ErrNotTLS},
		{"ServerHello", serverHello, ErrNotTLS},
		{"truncated", hello[:len(hello)-1], io.ErrUnexpectedEOF},
		{"too long", hello, ErrTooLong},
		{"no extensions", helloWith(nil, false), ErrNoName},
		{"two server_name", helloWith([][]byte{sniExtension(0, "a.example"), sniExtension(0, "b.example")}, true), ErrNotTLS},
		{"bad name", helloWith([][]byte{sniExtension(0, "a_b.example")}, true), ErrBadName},
		{"IPv6 literal", helloWith([][]byte{sniExtension(0, "2001:db8::1")}, true), ErrNoName},
		{"other name type only", helloWith([][]byte{sniExtension(7, "a.example")}, true), ErrNoName},
		{"empty list", helloWith([][]byte{{0, 0, 0, 2, 0, 0}}, true), ErrNotTLS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			max := 4096
			if tt.err == ErrTooLong {
				max = len(tt.data) - 10
			}
			name, err := sniffBytes(t, TLSServerName, bytes.NewReader(tt.data), tt.data, 4096, max)
			checkResult(t, name, err, "", tt.err)
		})
	}
}

func TestTLSServerNameFirstHostName(t *testing.T) {
	ext := sniExtension(7, "x.example")
	entry := sniExtension(0, "b.example")[6:] // name_type, length, name
	ext = append(ext, entry...)
	ext[3] += byte(len(entry)) // extension length
	ext[5] += byte(len(entry)) // list length
	data := helloWith([][]byte{ext}, true)
	name, err := sniffBytes(t, TLSServerName, bytes.NewReader(data), data, 4096, 4096)
	checkResult(t, name, err, "b.example", nil)
}

// helloWith builds a one-record ClientHello with the given extensions (each
// with its type and length), with or without an extensions block.
func helloWith(extensions [][]byte, withBlock bool) []byte {
	var b cryptobyte.Builder
	b.AddUint8(recordTypeHandshake)
	b.AddBytes([]byte{3, 1})
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint8(typeClientHello)
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint16(tls.VersionTLS12)
			b.AddBytes(make([]byte, 32))
			b.AddUint8(0)                        // session id
			b.AddBytes([]byte{0, 2, 0xc0, 0x2f}) // one cipher suite
			b.AddBytes([]byte{1, 0})             // null compression
			if withBlock {
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					for _, e := range extensions {
						b.AddBytes(e)
					}
				})
			}
		})
	})
	return b.BytesOrPanic()
}

// sniExtension is a server_name extension with one entry.
func sniExtension(nameType uint8, name string) []byte {
	var b cryptobyte.Builder
	b.AddUint16(extensionServerName)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint8(nameType)
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(name)) })
		})
	})
	return b.BytesOrPanic()
}

// selfSigned returns a certificate for name and a pool that trusts it.
func selfSigned(t *testing.T, name string) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// readerConn is a net.Conn that reads through r (a bufio.Reader on Conn).
type readerConn struct {
	net.Conn
	r io.Reader
}

func (c *readerConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// replayConn is a net.Conn that reads r and swallows writes.
type replayConn struct{ r io.Reader }

func (c *replayConn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c *replayConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c *replayConn) Close() error                     { return nil }
func (c *replayConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *replayConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *replayConn) SetDeadline(time.Time) error      { return nil }
func (c *replayConn) SetReadDeadline(time.Time) error  { return nil }
func (c *replayConn) SetWriteDeadline(time.Time) error { return nil }
