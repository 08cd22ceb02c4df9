package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"

	mdns "github.com/miekg/dns"
)

// ErrNoUpstream is returned (wrapped) by Forward when no upstream answered
// within the budget.
var ErrNoUpstream = errors.New("no upstream answered")

// ForwarderConfig configures a Forwarder.
type ForwarderConfig struct {
	// Upstreams are the servers to ask, in order of preference: the
	// nameservers of the host's original resolv.conf
	// (proxy/resolvconf.ParseUpstreams). At least one.
	Upstreams []netip.AddrPort
	// Budget is how long a query may wait for the upstreams in all (UDP, and
	// TCP for a truncated answer), from the moment it is forwarded; then the
	// program gets SERVFAIL. Upstream i is asked at i×Budget/(n+1) for n
	// upstreams, or as soon as the ones before it have all failed; the first
	// usable answer wins. Keep it under the stub resolver's timeout (glibc:
	// 5 s), so that programs get an answer rather than a time-out. Default
	// DefaultForwardBudget (2 s).
	Budget time.Duration
	// MaxInflight bounds the queries in flight. Default DefaultMaxInflight.
	MaxInflight int
	// Control, if set, is called on each upstream socket before it connects
	// (net.Dialer.Control): the proxy sets its firewall mark there.
	Control func(network, address string, c syscall.RawConn) error
}

// Forwarder sends queries the Responder does not answer to the upstream
// servers. It is safe for concurrent use.
type Forwarder struct {
	upstreams []netip.AddrPort
	budget    time.Duration
	stagger   time.Duration // between the starts of two upstreams
	slots     chan struct{}
	dialer    net.Dialer
}

// NewForwarder returns a Forwarder for cfg (zero fields take their defaults).
func NewForwarder(cfg ForwarderConfig) (*Forwarder, error) {
	if len(cfg.Upstreams) == 0 {
		return nil, fmt.Errorf("dns: forwarder: no upstream servers")
	}
	for _, u := range cfg.Upstreams {
		if !u.IsValid() || u.Port() == 0 {
			return nil, fmt.Errorf("dns: forwarder: bad upstream %v", u)
		}
	}
	if cfg.Budget == 0 {
		cfg.Budget = DefaultForwardBudget
	}
	if cfg.MaxInflight == 0 {
		cfg.MaxInflight = DefaultMaxInflight
	}
	if cfg.Budget < 0 || cfg.MaxInflight < 0 {
		return nil, fmt.Errorf("dns: forwarder: negative budget %v or MaxInflight %d", cfg.Budget, cfg.MaxInflight)
	}
	return &Forwarder{
		upstreams: append([]netip.AddrPort(nil), cfg.Upstreams...),
		budget:    cfg.Budget,
		stagger:   cfg.Budget / time.Duration(len(cfg.Upstreams)+1),
		slots:     make(chan struct{}, cfg.MaxInflight),
		dialer:    net.Dialer{Control: cfg.Control},
	}, nil
}

// Forward sends query to the upstreams and returns the first usable answer: an
// answer that matches the query (id, question) and is not SERVFAIL, REFUSED or
// NOTIMP; failing that, the last such answer; failing that, after at most the
// budget, an error wrapping ErrNoUpstream. A truncated UDP answer is asked
// again over TCP, so the answer is complete: Forward is for programs that ask
// over TCP. It waits for a free slot if MaxInflight queries are in flight.
// The answer is a new slice; query is not kept.
func (f *Forwarder) Forward(ctx context.Context, query []byte) ([]byte, error) {
	select {
	case f.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("dns: forward: %w", ctx.Err())
	}
	defer func() { <-f.slots }()
	return f.forward(ctx, query, true)
}

// Go forwards a copy of query in a new goroutine and calls done with that
// copy and the result, as Forward does but for a program that asked over UDP:
// a truncated answer is passed on as it is (it fits what the program accepts;
// the program asks again over TCP). It returns false, without calling done,
// when MaxInflight queries are in flight already (the proxy drops the query:
// the program asks again). It is for the goroutine that reads the tun device,
// which must not wait.
func (f *Forwarder) Go(ctx context.Context, query []byte, done func(query, resp []byte, err error)) bool {
	select {
	case f.slots <- struct{}{}:
	default:
		return false
	}
	q := append([]byte(nil), query...)
	go func() {
		defer func() { <-f.slots }()
		resp, err := f.forward(ctx, q, false)
		done(q, resp, err)
	}()
	return true
}

// attempt is the outcome of asking one upstream.
type attempt struct {
	up   netip.AddrPort
	resp []byte
	err  error
}

// forward asks the upstreams, staggered, within the budget (see
// ForwarderConfig.Budget); full asks a truncated answer again over TCP.
func (f *Forwarder) forward(ctx context.Context, query []byte, full bool) ([]byte, error) {
	if len(query) < headerLen {
		return nil, fmt.Errorf("dns: forward: %w: %d bytes", ErrMalformed, len(query))
	}
	ctx, cancel := context.WithTimeout(ctx, f.budget)
	defer cancel() // stops the attempts still running
	results := make(chan attempt, len(f.upstreams))
	next, running := 0, 0
	start := func() {
		up := f.upstreams[next]
		next++
		running++
		go func() {
			resp, err := f.ask(ctx, up, query, full)
			results <- attempt{up, resp, err}
		}()
	}
	start()
	stagger := time.NewTimer(f.stagger)
	defer stagger.Stop()
	var fallback []byte
	var errs []string
	for running > 0 || next < len(f.upstreams) {
		select {
		case <-stagger.C:
			if next < len(f.upstreams) {
				start()
				stagger.Reset(f.stagger)
			}
			continue
		case <-ctx.Done():
			errs = append(errs, fmt.Sprintf("no answer within %v", f.budget))
			return f.giveUp(fallback, errs)
		case a := <-results:
			running--
			if a.err == nil && !isFailure(a.resp) {
				return a.resp, nil
			}
			if a.err != nil {
				errs = append(errs, a.err.Error())
			} else {
				fallback = a.resp
				errs = append(errs, fmt.Sprintf("%v: %s", a.up, mdns.RcodeToString[rcode(a.resp)]))
			}
		}
		if running == 0 && next < len(f.upstreams) {
			start() // all asked so far failed: do not wait for the stagger
			stagger.Reset(f.stagger)
		}
	}
	return f.giveUp(fallback, errs)
}

// giveUp returns the last failure answer an upstream gave, or an error
// wrapping ErrNoUpstream that lists what went wrong.
func (f *Forwarder) giveUp(fallback []byte, errs []string) ([]byte, error) {
	if fallback != nil {
		return fallback, nil
	}
	return nil, fmt.Errorf("dns: forward: %w: %s", ErrNoUpstream, strings.Join(errs, "; "))
}

// ask sends query to up over UDP and, when full and the answer is truncated,
// again over TCP (keeping the truncated answer if TCP fails).
func (f *Forwarder) ask(ctx context.Context, up netip.AddrPort, query []byte, full bool) ([]byte, error) {
	resp, err := f.exchange(ctx, "udp", up, query)
	if err != nil || !full || !isTruncated(resp) {
		return resp, err
	}
	if whole, err := f.exchange(ctx, "tcp", up, query); err == nil {
		return whole, nil
	}
	return resp, nil
}

// isFailure reports whether resp says the upstream could not answer:
// SERVFAIL, REFUSED or NOTIMP (another upstream may do better).
func isFailure(resp []byte) bool {
	switch rcode(resp) {
	case mdns.RcodeServerFailure, mdns.RcodeRefused, mdns.RcodeNotImplemented:
		return true
	}
	return false
}

// exchange sends query to up over network ("udp" or "tcp") and returns the
// answer, before ctx ends.
func (f *Forwarder) exchange(ctx context.Context, network string, up netip.AddrPort, query []byte) ([]byte, error) {
	conn, err := f.dialer.DialContext(ctx, network, up.String())
	if err != nil {
		return nil, fmt.Errorf("%s %v: %w", network, up, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	var resp []byte
	if network == "tcp" {
		resp, err = exchangeTCP(conn, query)
	} else {
		resp, err = exchangeUDP(conn, query)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %v: %w", network, up, err)
	}
	return resp, nil
}

// exchangeUDP writes query and reads until an answer to it arrives; stray
// datagrams (another id or question) are skipped.
func exchangeUDP(conn net.Conn, query []byte) ([]byte, error) {
	if _, err := conn.Write(query); err != nil {
		return nil, err
	}
	buf := make([]byte, maxMessage)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, err
		}
		if matches(query, buf[:n]) {
			return append([]byte(nil), buf[:n]...), nil
		}
	}
}

// exchangeTCP writes query with its length prefix and reads one answer.
func exchangeTCP(conn net.Conn, query []byte) ([]byte, error) {
	if len(query) > maxMessage {
		return nil, fmt.Errorf("query of %d bytes", len(query))
	}
	out := make([]byte, 2+len(query))
	binary.BigEndian.PutUint16(out, uint16(len(query)))
	copy(out[2:], query)
	if _, err := conn.Write(out); err != nil {
		return nil, err
	}
	var l [2]byte
	if _, err := io.ReadFull(conn, l[:]); err != nil {
		return nil, err
	}
	resp := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(conn, resp); err != nil {
		return nil, err
	}
	if !matches(query, resp) {
		return nil, fmt.Errorf("answer does not match the query")
	}
	return resp, nil
}

// matches reports whether resp is an answer to query: same id, QR set, and the
// same first question (name compared without regard to case).
func matches(query, resp []byte) bool {
	if len(resp) < headerLen || len(query) < headerLen {
		return false
	}
	if resp[0] != query[0] || resp[1] != query[1] || resp[2]&0x80 == 0 {
		return false
	}
	qd := binary.BigEndian.Uint16(query[4:])
	if qd == 0 {
		return true
	}
	if binary.BigEndian.Uint16(resp[4:]) != qd {
		return false
	}
	qn, qoff, err := mdns.UnpackDomainName(query, headerLen)
	if err != nil || qoff+4 > len(query) {
		return false
	}
	rn, roff, err := mdns.UnpackDomainName(resp, headerLen)
	if err != nil || roff+4 > len(resp) {
		return false
	}
	return strings.EqualFold(qn, rn) && string(query[qoff:qoff+4]) == string(resp[roff:roff+4])
}

// isTruncated reports whether the TC bit of msg is set.
func isTruncated(msg []byte) bool { return len(msg) >= headerLen && msg[2]&0x02 != 0 }

// rcode returns the (4-bit) rcode of msg.
func rcode(msg []byte) int { return int(msg[3] & 0x0f) }
