package dns

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// DNS over TCP (RFC 1035 §4.2.2, RFC 7766): every message is preceded by its
// length, two bytes in network order. A connection carries many queries; the
// server answers each as soon as it can, so answers may come out of order
// (the client matches them by id).

// ErrFraming is returned (wrapped) by ReadTCPMessage for a length prefix that
// announces a message too short to be DNS.
var ErrFraming = errors.New("bad DNS over TCP framing")

// Defaults of TCPConfig.
const (
	// DefaultTCPIdle is how long a connection may stay without a query (and
	// without an answer pending) before the server closes it (RFC 7766 §6.2.3
	// asks for seconds, not minutes).
	DefaultTCPIdle = 10 * time.Second
	// DefaultTCPConns bounds the connections served at once; more are closed
	// at once.
	DefaultTCPConns = 64
	// DefaultTCPPipeline bounds the queries of one connection being answered
	// at once; the server reads no more until one is answered.
	DefaultTCPPipeline = 16
)

// ReadTCPMessage reads one length-prefixed message from r into buf's capacity
// (a new slice if it is too small) and returns it. io.EOF means the peer
// closed the connection between messages; a length below a DNS header is an
// error wrapping ErrFraming; a message cut short is io.ErrUnexpectedEOF.
func ReadTCPMessage(r io.Reader, buf []byte) ([]byte, error) {
	var prefix [2]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(prefix[:]))
	if n < headerLen {
		return nil, fmt.Errorf("dns: tcp: %w: a message of %d bytes", ErrFraming, n)
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	msg := buf[:n]
	if _, err := io.ReadFull(r, msg); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return msg, nil
}

// AppendTCPMessage appends msg with its length prefix to dst. msg must be at
// most 65535 bytes.
func AppendTCPMessage(dst, msg []byte) ([]byte, error) {
	if len(msg) > maxMessage {
		return dst, fmt.Errorf("dns: tcp: a message of %d bytes does not fit a length prefix", len(msg))
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(msg)))
	return append(dst, msg...), nil
}

// TCPConfig configures ServeTCP; zero fields take the defaults above.
type TCPConfig struct {
	Idle     time.Duration // DefaultTCPIdle
	Conns    int           // DefaultTCPConns
	Pipeline int           // DefaultTCPPipeline
}

func (c TCPConfig) withDefaults() TCPConfig {
	if c.Idle <= 0 {
		c.Idle = DefaultTCPIdle
	}
	if c.Conns <= 0 {
		c.Conns = DefaultTCPConns
	}
	if c.Pipeline <= 0 {
		c.Pipeline = DefaultTCPPipeline
	}
	return c
}

// TCPHandler answers one query (a DNS message without its prefix) read from a
// TCP connection. It may block, as long as ctx allows; it returns the answer
// (a slice it gives up), or nil to send nothing. It is called from many
// goroutines at once.
type TCPHandler func(ctx context.Context, query []byte) []byte

// ServeTCP accepts connections on ln and answers their queries with h until
// ctx ends or ln fails; it then closes ln and every connection, waits for its
// goroutines and returns the reason.
func ServeTCP(ctx context.Context, ln net.Listener, h TCPHandler, cfg TCPConfig) error {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, cfg.Conns)
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("dns: tcp: accept: %w", err)
		}
		select {
		case slots <- struct{}{}:
		default:
			conn.Close() // too many: the client falls back or retries
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			serveConn(ctx, conn, h, cfg)
		})
	}
}

// serveConn answers the queries of one connection: it reads them in order,
// answers up to cfg.Pipeline at once, each on its own goroutine, and writes
// each answer whole as it comes. It closes conn when the client does, after
// cfg.Idle without queries, on a framing error or when ctx ends, once the
// answers under way are written.
func serveConn(ctx context.Context, conn net.Conn, h TCPHandler, cfg TCPConfig) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	var (
		wg      sync.WaitGroup
		writeMu sync.Mutex
		slots   = make(chan struct{}, cfg.Pipeline)
		r       = bufio.NewReaderSize(conn, 1024)
	)
	defer func() {
		wg.Wait()
		stop()
		cancel()
		conn.Close()
	}()
	for {
		conn.SetReadDeadline(time.Now().Add(cfg.Idle))
		query, err := ReadTCPMessage(r, nil)
		if err != nil {
			return
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { <-slots }()
			resp := h(ctx, query)
			if resp == nil {
				return
			}
			out, err := AppendTCPMessage(make([]byte, 0, 2+len(resp)), resp)
			if err != nil {
				return
			}
			writeMu.Lock()
			defer writeMu.Unlock()
			conn.SetWriteDeadline(time.Now().Add(cfg.Idle))
			if _, err := conn.Write(out); err != nil {
				cancel() // the client is gone or stuck: stop reading too
			}
		})
	}
}
