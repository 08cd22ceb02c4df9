package demo

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/i3net/i3net/internal/netlab"
)

// The FTP upload of the middlebox's chapters: vsftpd on home (anonymous
// uploads into incoming/, active mode only, as e2e/ftp_test.go runs it) and
// inetutils-ftp on laptop.

// ftpMissing says which of the FTP programs this machine lacks, or "".
func ftpMissing() string {
	if m := netlab.VsftpdMissing(); m != "" {
		return m
	}
	if _, err := exec.LookPath("inetutils-ftp"); err != nil {
		return "inetutils-ftp"
	}
	return ""
}

// startVsftpd runs vsftpd on home, anonymous uploads allowed into
// incoming/, and waits until it listens on port 21.
func (d *labDemo) startVsftpd(ctx context.Context) error {
	dir := filepath.Join(d.dir, "ftp")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	_, err := d.home.StartVsftpd(ctx, dir)
	return err
}

// ftpPut uploads a file of 64 KiB named name from laptop to home.i3 with
// inetutils-ftp (active mode: home's vsftpd connects back to laptop's
// address) and returns the client's output.
func (d *labDemo) ftpPut(ctx context.Context, name string) (string, error) {
	local := filepath.Join(d.dir, "laptop-files")
	if err := os.Mkdir(local, 0o700); err != nil {
		return "", err
	}
	data := make([]byte, 64<<10)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(local, name), data, 0o600); err != nil {
		return "", err
	}
	cmd := d.laptop.Exec(ctx, "inetutils-ftp", "-4", "-n", "-v", "home.i3")
	cmd.Dir = local
	cmd.Stdin = strings.NewReader("user anonymous\nbinary\ncd incoming\nput " + name + "\nquit\n")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "226 ") {
		return "", fmt.Errorf("inetutils-ftp put %s to home.i3: %v:\n%s", name, err, out)
	}
	return string(out), nil
}

// uploadEggdrop has laptop upload eggdrop to home's FTP server, waits for
// home to show Suricata's alert, then shows what the middlebox counted.
func (d *labDemo) uploadEggdrop(ctx context.Context) error {
	d.n.chapter("laptop uploads eggdrop to home by FTP; the IDS alerts home")
	if missing := ftpMissing(); missing != "" {
		d.n.say("%s is not installed (scripts/deps installs it): no FTP upload to show", missing)
		return d.middleboxStatus(ctx)
	}
	if err := d.startVsftpd(ctx); err != nil {
		return err
	}
	d.n.say("vsftpd serves anonymous FTP on home:21 (active mode)")
	start := time.Now()
	out, err := d.ftpPut(ctx, "eggdrop")
	if err != nil {
		return err
	}
	uploaded := time.Now()
	d.n.say("$ inetutils-ftp home.i3   put eggdrop (64 KiB) in %v", uploaded.Sub(start).Round(time.Millisecond))
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "200 PORT") || strings.HasPrefix(l, "226 ") {
			d.n.say("  %s", strings.TrimSpace(l))
		}
	}
	if d.mb.suricata {
		if err := d.waitAlert(ctx, uploaded); err != nil {
			return err
		}
	} else {
		d.n.say("without Suricata, nothing reads the IDS device: no alert")
	}
	return d.middleboxStatus(ctx)
}

// waitAlert waits, bounded by alertWait, until home's status shows the
// eggdrop alert, and shows it with the time since the upload ended.
func (d *labDemo) waitAlert(ctx context.Context, uploaded time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, alertWait)
	defer cancel()
	var status string
	err := d.waitStatus(ctx, d.home, func(st string) bool {
		status = st
		return strings.Contains(st, "eggdrop")
	})
	if err != nil {
		return fmt.Errorf("home shows no alert for the upload of eggdrop within %v: %w", alertWait, err)
	}
	d.n.say("home's i3net status shows Suricata's alert %v after the upload:", time.Since(uploaded).Round(time.Millisecond))
	d.sayFrom(status, "# IDS alerts")
	return nil
}

// middleboxStatus shows ids's "i3net status": the host it serves and what
// it forwarded and handed to the IDS.
func (d *labDemo) middleboxStatus(ctx context.Context) error {
	out, err := d.mb.host.Run(ctx, d.self, "status", "--state-dir", d.stateDir(d.mb.host.Name()))
	if err != nil {
		return err
	}
	d.n.say("ids's i3net status: the host it serves, the frames it forwarded and the packets it handed to the IDS:")
	d.sayFrom(string(out), "HOST")
	return nil
}
