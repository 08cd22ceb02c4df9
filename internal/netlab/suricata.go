package netlab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Suricata, the intrusion-detection system the middlebox's tests and
// benchmark run live beside "i3net middlebox" (issue 11): Debian's package,
// from bookworm-backports (scripts/deps installs it).

// SuricataEve is the name of Suricata's event log in its log directory.
const SuricataEve = "eve.json"

// StartSuricata starts Suricata in h, capturing live (af-packet) on iface,
// with the rules text and no other rule, logging into dir (SuricataEve:
// alert, http and ftp events; suricata.log), with the configuration
// SuricataYAML writes there. It returns once the log says the engine
// started and the event log exists; if ctx ends first, or Suricata exits, it
// stops it and says why.
func (h *Host) StartSuricata(ctx context.Context, dir, iface, rules string) (*Proc, error) {
	if _, err := exec.LookPath("suricata"); err != nil {
		return nil, errors.New("netlab: suricata is not installed (scripts/deps installs it from bookworm-backports)")
	}
	conf := filepath.Join(dir, "suricata.yaml")
	if err := os.WriteFile(conf, []byte(SuricataYAML(dir, iface)), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "e2e.rules"), []byte(rules), 0o600); err != nil {
		return nil, err
	}
	p, err := h.Start("suricata", "-c", conf, "--af-packet="+iface, "-l", dir,
		"-k", "none", "--pidfile", filepath.Join(dir, "suricata.pid"))
	if err != nil {
		return nil, err
	}
	logFile := filepath.Join(dir, "suricata.log")
	err = Poll(ctx, 50*time.Millisecond, func() error {
		select {
		case <-p.Done():
			return nil
		default:
		}
		b, _ := os.ReadFile(logFile)
		if !strings.Contains(strings.ToLower(string(b)), "engine started") {
			return errors.New(`no "engine started" in suricata.log yet`)
		}
		_, err := os.Stat(filepath.Join(dir, SuricataEve))
		return err
	})
	select {
	case <-p.Done():
		b, _ := os.ReadFile(logFile)
		return nil, fmt.Errorf("netlab: %s: suricata on %s exited (%v):\n%s\n%s", h.name, iface, p.Wait(), tail(p.Output(), 2048), tail(b, 2048))
	default:
	}
	if err != nil {
		b, _ := os.ReadFile(logFile)
		return nil, errors.Join(fmt.Errorf("netlab: %s: suricata did not start capturing on %s: %w\n%s", h.name, iface, err, tail(b, 2048)), p.Stop())
	}
	return p, nil
}

// SuricataYAML returns the configuration StartSuricata runs Suricata with:
// logs and rules (e2e.rules) in dir, af-packet on iface, one packet thread
// (runmode single), small memory caps, no checksum checks (a tun's packets
// may carry checksums its offloads left unfinished), eve.json with alert,
// http and ftp events, no unix socket.
func SuricataYAML(dir, iface string) string {
	return fmt.Sprintf(suricataYAML, dir, iface)
}

// suricataYAML: %[1]s is the log directory, %[2]s the interface.
const suricataYAML = `%%YAML 1.1
---
# i3net (netlab): Suricata live on one interface, the test's rules only.
vars:
  address-groups:
    HOME_NET: "any"
    EXTERNAL_NET: "any"
  port-groups:
    HTTP_PORTS: "any"
    FTP_PORTS: "21"
default-log-dir: %[1]s
default-rule-path: %[1]s
rule-files:
  - e2e.rules
classification-file: /etc/suricata/classification.config
reference-config-file: /etc/suricata/reference.config
runmode: single
max-pending-packets: 256
outputs:
  - eve-log:
      enabled: yes
      filetype: regular
      filename: eve.json
      types:
        - alert
        - http:
            extended: yes
        - ftp
logging:
  default-log-level: info
  outputs:
    - console:
        enabled: no
    - file:
        enabled: yes
        level: info
        filename: suricata.log
af-packet:
  - interface: %[2]s
    threads: 1
    cluster-id: 99
    cluster-type: cluster_flow
    defrag: no
    use-mmap: yes
    ring-size: 2048
    checksum-checks: no
app-layer:
  protocols:
    http:
      enabled: yes
    ftp:
      enabled: yes
      memcap: 8mb
flow:
  memcap: 16mb
  hash-size: 4096
  prealloc: 1000
stream:
  memcap: 32mb
  checksum-validation: no
  reassembly:
    memcap: 64mb
    depth: 1mb
defrag:
  memcap: 8mb
host:
  memcap: 8mb
detect:
  profile: low
mpm-algo: ac
spm-algo: bm
unix-command:
  enabled: no
`
