package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/i3net/i3net/internal/netlab"
)

// The ingress's chapters, continued (ingress.go): home publishes, phone
// reaches home by name, and what home and the ingress then know.

// publishHome starts home's daytime service, puts the ingress in home's
// book and publishes home's web server and daytime service through it, and
// waits until the ingress accepted both.
func (d *labDemo) publishHome(ctx context.Context) error {
	d.n.chapter("home publishes its web server and its daytime service")
	if err := d.serveDaytime(); err != nil {
		return err
	}
	d.n.say("home also serves daytime (RFC 867) on port %d: it sends the date and hangs up", daytimePort)
	if err := d.bookAddAs(ctx, "home", ingBookName, d.keys["ingress"]); err != nil {
		return err
	}
	d.n.say("$ i3net book add %s %s   (on home)", ingBookName, d.keys["ingress"])
	for _, port := range []string{"80", fmt.Sprint(daytimePort)} {
		out, err := exec.CommandContext(ctx, d.self, "publish", "add", ingBookName, "home", port, "--state-dir", d.stateDir("home")).CombinedOutput()
		if err != nil {
			return fmt.Errorf("i3net publish add %s home %s on home: %v: %s", ingBookName, port, err, out)
		}
		d.n.say("$ i3net publish add %s home %s   (on home)", ingBookName, port)
		d.n.say("  %s", strings.TrimSpace(string(out)))
	}
	start := time.Now()
	var status string
	err := d.waitStatus(ctx, d.home, func(st string) bool {
		status = st
		return strings.Count(st, " accepted") >= 2
	})
	if err != nil {
		return fmt.Errorf("the ingress did not accept home's publications: %w", err)
	}
	d.n.say("home's running proxy read publish.toml and offered both to the ingress, which accepted them after %v (home's i3net status):",
		time.Since(start).Round(time.Millisecond))
	d.sayFrom(status, "PUBLISHED")
	return nil
}

// serveDaytime serves daytime (RFC 867) on home: each connection gets the
// date and is closed. The accept loop ends when cleanup closes the listener.
func (d *labDemo) serveDaytime() error {
	ln, err := d.home.Listen("tcp4", netip.AddrPortFrom(netip.IPv4Unspecified(), daytimePort))
	if err != nil {
		return err
	}
	d.ing.daytime = ln
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c, "%s (home's clock)\r\n", time.Now().UTC().Format("Monday, January 2, 2006 15:04:05-MST"))
			c.Close()
		}
	}()
	return nil
}

// digAnswer matches a line of dig's answer section: NAME TTL IN TYPE DATA.
var digAnswer = regexp.MustCompile(`^\S+\s+(\d+)\s+IN\s+A\s+(\S+)$`)

// phoneReachesHome: phone resolves home.i3.example.net through its
// resolver (a waypoint, TTL 0), reads home's daytime service with bash
// alone (routed by the heuristic) and fetches home's page with curl (routed
// by the Host header).
func (d *labDemo) phoneReachesHome(ctx context.Context) error {
	d.n.chapter("phone reaches home by name, with nothing of i3net")
	home := ingFQDN("home")
	out, err := d.phoneRun(ctx, "dig", "+time=5", "+tries=1", "+noall", "+answer", home, "A")
	if err != nil {
		return err
	}
	d.n.say("$ dig %s   (on phone, through the resolver, which asked parent, then the ingress)", home)
	d.sayLines(strings.Split(string(out), "\n"))
	if err := checkWaypointAnswer(out); err != nil {
		return fmt.Errorf("dig %s on phone: %w", home, err)
	}
	d.n.say("a waypoint of the ingress, TTL 0: every lookup asks the ingress again, which notes the name it handed out at that waypoint")
	start := time.Now()
	if out, err = d.phoneRun(ctx, "bash", "-c", fmt.Sprintf("cat </dev/tcp/%s/%d", home, daytimePort)); err != nil {
		return err
	}
	if !strings.Contains(string(out), "home's clock") {
		return fmt.Errorf("home's daytime service through the ingress answered %q", out)
	}
	d.n.say("$ cat </dev/tcp/%s/%d   (bash alone, %v: no name in what phone sends; the ingress took the name it handed out at that waypoint in the last second, the paper's heuristic, and binds phone there to home)",
		home, daytimePort, time.Since(start).Round(time.Millisecond))
	d.n.say("  %s", strings.TrimSpace(string(out)))
	start = time.Now()
	if out, err = d.phoneRun(ctx, "curl", "-sS", "--fail", "-m", "10", "http://"+home+"/"); err != nil {
		return err
	}
	d.n.say("$ curl http://%s/   (%v: the ingress read the Host header and carried the connection over the overlay to home)",
		home, time.Since(start).Round(time.Millisecond))
	d.n.say("  %s", strings.TrimSpace(string(out)))
	d.n.say("home's web server sees the ingress, at the virtual address home's proxy gave it; home's status names phone (below)")
	return d.phoneRefused(ctx)
}

// checkWaypointAnswer checks that dig's answer section is one A record with
// TTL 0 holding a waypoint.
func checkWaypointAnswer(out []byte) error {
	m := digAnswer.FindStringSubmatch(strings.TrimSpace(string(out)))
	if m == nil {
		return fmt.Errorf("%q: want one A record", out)
	}
	if a, err := netip.ParseAddr(m[2]); err != nil || m[1] != "0" || !slices.Contains(ingWaypoints, a) {
		return fmt.Errorf("%q: want TTL 0 and a waypoint %v", out, ingWaypoints)
	}
	return nil
}

// phoneRun runs a command on phone, bounded by phoneWait.
func (d *labDemo) phoneRun(ctx context.Context, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, phoneWait)
	defer cancel()
	return d.ing.phone.Run(ctx, name, args...)
}

// digStatus matches the status in dig's header.
var digStatus = regexp.MustCompile(`status: ([A-Z]+)`)

// phoneRefused: a name nobody published does not exist; a port home did
// not publish is refused, though the ingress listens there (443).
func (d *labDemo) phoneRefused(ctx context.Context) error {
	out, err := d.phoneRun(ctx, "dig", "+time=5", "+tries=1", unpublishedName, "A")
	if err != nil {
		return err
	}
	m := digStatus.FindStringSubmatch(string(out))
	if m == nil || m[1] != "NXDOMAIN" {
		return fmt.Errorf("dig %s on phone: want NXDOMAIN:\n%s", unpublishedName, out)
	}
	d.n.say("$ dig %s   → %s: nobody published that name", unpublishedName, m[1])
	start := time.Now()
	out, err = d.phoneRun(ctx, "curl", "-sS", "-m", "5", "https://"+ingFQDN("home")+"/")
	if err == nil {
		return fmt.Errorf("curl https://%s/ succeeded, but home published no port 443: %q", ingFQDN("home"), out)
	}
	d.n.say("$ curl https://%s/   fails after %v: the ingress read the TLS server name, home, which published no port 443, and reset the connection",
		ingFQDN("home"), time.Since(start).Round(time.Millisecond))
	d.n.say("  %s", lastLine(out))
	return nil
}

// lastLine returns the last line of out that is not blank.
func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// ingressStatus waits until home's status names phone's address among its
// ingress flows, shows it, then shows what the ingress serves and counts.
func (d *labDemo) ingressStatus(ctx context.Context) error {
	d.n.chapter("What home and the ingress know (i3net status)")
	phone := d.ing.phone.Addr4()
	err := netlab.Poll(ctx, 50*time.Millisecond, func() error {
		flows, err := d.ingressFlows(ctx)
		if err != nil {
			return err
		}
		for _, f := range flows {
			if c, err := netip.ParseAddrPort(f.Client); err == nil && c.Addr() == phone {
				return nil
			}
		}
		return fmt.Errorf("home's status names no ingress flow from phone %v: %+v", phone, flows)
	})
	if err != nil {
		return err
	}
	out, err := d.home.Run(ctx, d.self, "status", "--state-dir", d.stateDir("home"))
	if err != nil {
		return err
	}
	d.n.say("home: what it publishes, and the real address of each client the ingress brought (phone is %v):", phone)
	d.sayFrom(string(out), "PUBLISHED")
	h := d.ing.host
	if out, err = h.Run(ctx, d.self, "status", "--state-dir", d.stateDir(h.Name())); err != nil {
		return err
	}
	d.n.say("ingress: its zone, waypoints and listeners, what is published, its counters:")
	d.sayFrom(string(out), "# ingress for zone")
	d.n.say("heuristic_claimed, routed_heuristic: bash's connection; routed_http_host: curl's; conns_not_published: the https connection it reset; dns_nxdomain: %s", unpublishedName)
	return nil
}

// ingressFlow is a connection an ingress brought home, as "i3net status
// --json" shows it.
type ingressFlow struct {
	Client string
	Port   uint16
}

// ingressFlows returns the ingress flows of home's "i3net status --json".
func (d *labDemo) ingressFlows(ctx context.Context) ([]ingressFlow, error) {
	out, err := d.home.Run(ctx, d.self, "status", "--json", "--state-dir", d.stateDir("home"))
	if err != nil {
		return nil, err
	}
	var st struct {
		IngressFlows []ingressFlow `json:"ingress_flows"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return nil, fmt.Errorf("i3net status --json on home: %w", err)
	}
	return st.IngressFlows, nil
}
