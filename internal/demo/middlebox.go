package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/i3net/i3net/internal/netlab"
)

// The middlebox's chapters (docs/middlebox.md, the paper's §6.4.1): a host
// ids on the internet runs "i3net middlebox", which serves home and writes
// every packet it carries into its IDS tun, where Suricata reads them live.
// home's proxy restarts with middlebox = "ids-mb": from then on every
// session with home goes through ids. laptop uploads a file named eggdrop to
// home's FTP server; Suricata's rule for it raises an alert, which the
// middlebox sends back to home, whose "i3net status" shows it.

const (
	mbName = "ids-mb" // the middlebox's name in home's book
	idsTun = "i3ids0" // the tun the middlebox writes packets into for Suricata
	// alertWait bounds the wait for home to show the eggdrop alert.
	alertWait = 30 * time.Second
)

// idsRules is Suricata's only rule: an FTP upload (STOR) of a file named
// eggdrop. no_stream: each packet is looked at, as the e2e tests found
// necessary (on the reassembled stream Suricata looks at so small a
// connection only when it ends).
const idsRules = `alert ftp any any -> any any (msg:"i3net demo: FTP upload of eggdrop"; flow:to_server,established,no_stream; content:"STOR"; nocase; content:"eggdrop"; distance:0; nocase; classtype:trojan-activity; sid:3200001; rev:1;)
`

// idsBox is the host ids: "i3net middlebox" and Suricata beside it.
type idsBox struct {
	host     *netlab.Host
	suricata bool   // Suricata runs on the IDS tun
	eve      string // Suricata's eve.json, which the middlebox follows
}

// startMiddlebox makes the host ids, gives it an identity and a
// middlebox.toml serving home, starts "i3net middlebox" and, if installed,
// Suricata on its IDS tun.
func (d *labDemo) startMiddlebox(ctx context.Context) error {
	d.n.chapter("A middlebox, ids, with an intrusion-detection system beside it")
	m := &d.mb
	var err error
	if m.host, err = d.lab.Host("ids"); err != nil {
		return err
	}
	d.n.say("ids %v on the internet; home will choose it, no router or network is configured for it", m.host.Addr4())
	if err := d.newIdentity(ctx, m.host.Name()); err != nil {
		return err
	}
	_, lookErr := exec.LookPath("suricata")
	m.suricata = lookErr == nil
	conf, err := d.writeMiddleboxConf()
	if err != nil {
		return err
	}
	start := time.Now()
	if _, err := m.host.Start(d.self, "middlebox", "--state-dir", d.stateDir(m.host.Name()), "--config", conf, "--log-level", "warn"); err != nil {
		return err
	}
	if err := d.waitStatus(ctx, m.host, func(string) bool { return true }); err != nil {
		return fmt.Errorf("the middlebox on ids did not come up: %w", err)
	}
	if err := d.idsTunUp(ctx); err != nil {
		return err
	}
	d.n.say("$ i3net middlebox --config middlebox.toml   (on ids) up after %v: home's trigger inserted, IDS device %s made",
		time.Since(start).Round(time.Millisecond), idsTun)
	if !m.suricata {
		d.n.say("Suricata is not installed (scripts/deps installs it): the middlebox runs without an IDS, and no alert will come")
		return nil
	}
	start = time.Now()
	if _, err := m.host.StartSuricata(ctx, filepath.Dir(m.eve), idsTun, idsRules); err != nil {
		return err
	}
	d.n.say("$ suricata --af-packet=%s   (on ids) capturing after %v, with one rule:", idsTun, time.Since(start).Round(time.Millisecond))
	d.n.say("  alert on an FTP upload (STOR) of a file named eggdrop   (the paper's example, §6.4.1)")
	return nil
}

// writeMiddleboxConf writes ids's middlebox.toml, with home as its one host
// and, with Suricata, the IDS tun and Suricata's eve.json; shows it and
// returns its path.
func (d *labDemo) writeMiddleboxConf() (string, error) {
	m := &d.mb
	conf := fmt.Sprintf("servers = [%q]\n", d.ring.servers[0].data)
	if m.suricata {
		dir := filepath.Join(d.dir, "suricata")
		if err := os.Mkdir(dir, 0o700); err != nil {
			return "", err
		}
		m.eve = filepath.Join(dir, netlab.SuricataEve)
		conf += fmt.Sprintf("ids_tun = %q\neve_json = %q\n", idsTun, m.eve)
	} else {
		conf += fmt.Sprintf("ids_tun = %q\n", idsTun)
	}
	conf += fmt.Sprintf("[[host]]\nname = \"home\"\nkey = %q\n", d.keys["home"])
	path := filepath.Join(d.dir, "middlebox.toml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return "", err
	}
	d.n.say("ids's middlebox.toml: the overlay, the IDS's device and log, and the hosts it serves:")
	for _, l := range strings.Split(strings.TrimSpace(conf), "\n") {
		d.n.say("  %s", l)
	}
	return path, nil
}

// idsTunUp waits until the middlebox made its IDS tun and brings it up:
// Suricata captures only on an interface that is up.
func (d *labDemo) idsTunUp(ctx context.Context) error {
	h := d.mb.host
	err := netlab.Poll(ctx, 50*time.Millisecond, func() error {
		_, err := h.Run(ctx, "ip", "link", "show", idsTun)
		return err
	})
	if err != nil {
		return fmt.Errorf("the middlebox on ids made no %s: %w", idsTun, err)
	}
	_, err = h.Run(ctx, "ip", "link", "set", idsTun, "up")
	return err
}

// imposeMiddlebox puts ids in home's book as ids-mb and restarts home's
// proxy with middlebox = "ids-mb"; laptop then reaches home again, now
// through ids.
func (d *labDemo) imposeMiddlebox(ctx context.Context) error {
	d.n.chapter("home imposes the middlebox on everyone who contacts it")
	if err := d.bookAddAs(ctx, "home", mbName, d.keys["ids"]); err != nil {
		return err
	}
	conf := filepath.Join(d.dir, "home-proxy.toml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("middlebox = %q\n", mbName)), 0o600); err != nil {
		return err
	}
	d.n.say("home's book: %s → ids's key; home's proxy.toml: middlebox = %q", mbName, mbName)
	start := time.Now()
	if err := d.homeProxy.Stop(); err != nil {
		return err
	}
	args := []string{"proxy", "--server", d.ring.servers[0].data.String(), "--state-dir", d.stateDir("home"), "--log-level", "warn", "--config", conf}
	p, err := d.home.Start(d.self, args...)
	if err != nil {
		return err
	}
	d.homeProxy = p
	if err := d.waitStatus(ctx, d.home, func(string) bool { return true }); err != nil {
		return fmt.Errorf("home's proxy did not come back: %w", err)
	}
	d.n.say("home's proxy restarted with --config proxy.toml in %v; it kept its mappings and private triggers", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	out, err := d.laptop.Run(ctx, "curl", "-sS", "-m", "10", "http://home.i3/")
	if err != nil {
		return fmt.Errorf("curl http://home.i3/ after home imposed the middlebox: %w", err)
	}
	d.n.say("$ curl http://home.i3/   (%v: a new session, through ids)", time.Since(start).Round(time.Millisecond))
	d.n.say("  %s", strings.TrimSpace(string(out)))
	if c, err := d.counters(ctx, d.laptop); err == nil && c["resets_received"] > 0 {
		d.n.say("laptop still sent on its old session, which home's new proxy no longer had: home answered with a signed reset (laptop's resets_received %d) and laptop handshook again, home's answer coming through ids",
			c["resets_received"])
	}
	return d.sayThrough(ctx)
}

// counters returns the counters of "i3net status --json" on h.
func (d *labDemo) counters(ctx context.Context, h *netlab.Host) (map[string]uint64, error) {
	out, err := h.Run(ctx, d.self, "status", "--json", "--state-dir", d.stateDir(h.Name()))
	if err != nil {
		return nil, err
	}
	var st struct{ Counters map[string]uint64 }
	if err := json.Unmarshal(out, &st); err != nil {
		return nil, fmt.Errorf("i3net status --json on %s: %w", h.Name(), err)
	}
	return st.Counters, nil
}

// sayThrough shows the lines of home's status that say its sessions go
// through the middlebox, laptop's among them.
func (d *labDemo) sayThrough(ctx context.Context) error {
	out, err := d.home.Run(ctx, d.self, "status", "--state-dir", d.stateDir("home"))
	if err != nil {
		return err
	}
	laptop := false
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "through middlebox") {
			d.n.say("home's i3net status: %s", l)
			laptop = laptop || strings.HasPrefix(l, "# laptop:")
		}
	}
	if !laptop {
		return fmt.Errorf("home's status names no middlebox for its session with laptop:\n%s", out)
	}
	return nil
}
