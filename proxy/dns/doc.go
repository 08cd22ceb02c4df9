// Package dns is the legacy proxy's DNS: the Responder that answers names under
// the overlay suffix with virtual addresses (paper §3.2), the Forwarder that
// sends every other query to the host's original resolvers, and the detection
// of systemd-resolved and the choice of DNS mode (Mode, ParseMode, DetectMode,
// ChooseMode), over UDP (FitUDP truncates with TC) and TCP (ServeTCP, RFC 7766 framing). docs/dns.md says what is
// answered how, and how queries are forwarded.
//
// Responder.Answer takes untrusted bytes: a malformed query is an error (the
// proxy counts and drops it), never a panic; FuzzAnswer checks that. Answering
// a known name costs about a microsecond (BenchmarkAnswer): messages are pooled
// and the answer is packed into the caller's buffer.
//
// What it must not know: tun devices, IP packets, sessions or the overlay; it
// looks names up through the Resolver the proxy implements, and does not edit
// files (proxy/resolvconf does).
package dns
