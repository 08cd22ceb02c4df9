package netlab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
)

// FTPServer is vsftpd as StartVsftpd runs it: anonymous, uploads into
// Root/incoming, active mode only (the server connects back: PORT and EPRT).
type FTPServer struct {
	*Proc
	Root string // the anonymous root
	Log  string // vsftpd's protocol log
}

// vsftpdConf: %[1]s is the anonymous root, %[2]s an empty directory, %[3]s
// the log.
const vsftpdConf = `# i3net: vsftpd in a lab host
listen=YES
listen_ipv6=NO
listen_address=0.0.0.0
listen_port=21
background=NO
anonymous_enable=YES
no_anon_password=YES
local_enable=NO
write_enable=YES
anon_upload_enable=YES
anon_umask=022
anon_root=%[1]s
secure_chroot_dir=%[2]s
seccomp_sandbox=NO
isolate_network=NO
pasv_enable=NO
port_enable=YES
connect_from_port_20=NO
xferlog_enable=YES
xferlog_std_format=NO
log_ftp_protocol=YES
vsftpd_log_file=%[3]s
`

// VsftpdMissing says what of vsftpd this machine lacks (the program, or its
// anonymous user ftp), or "".
func VsftpdMissing() string {
	if _, err := exec.LookPath("/usr/sbin/vsftpd"); err != nil {
		return "vsftpd"
	}
	if _, err := user.Lookup("ftp"); err != nil {
		return "vsftpd's user ftp"
	}
	return ""
}

// StartVsftpd runs vsftpd in h, in the foreground, with its files in dir
// (which must exist and be empty), and returns once it listens on port 21.
// The caller stops it (Proc.Stop).
func (h *Host) StartVsftpd(ctx context.Context, dir string) (*FTPServer, error) {
	ftpUser, err := user.Lookup("ftp")
	if err != nil {
		return nil, fmt.Errorf("netlab: vsftpd's anonymous user ftp: %w", err)
	}
	uid, _ := strconv.Atoi(ftpUser.Uid)
	gid, _ := strconv.Atoi(ftpUser.Gid)
	s := &FTPServer{Root: filepath.Join(dir, "root"), Log: filepath.Join(dir, "vsftpd.log")}
	empty, incoming := filepath.Join(dir, "empty"), filepath.Join(s.Root, "incoming")
	for _, d := range []string{s.Root, empty, incoming} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, fmt.Errorf("netlab: vsftpd: %w", err)
		}
	}
	// The chroot is root's and read-only to ftp; uploads go to incoming/.
	if err := os.Chown(incoming, uid, gid); err != nil {
		return nil, fmt.Errorf("netlab: vsftpd: %w", err)
	}
	conf := filepath.Join(dir, "vsftpd.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, vsftpdConf, s.Root, empty, s.Log), 0o600); err != nil {
		return nil, fmt.Errorf("netlab: vsftpd: %w", err)
	}
	if s.Proc, err = h.Start("/usr/sbin/vsftpd", conf); err != nil {
		return nil, err
	}
	if err := WaitListen(ctx, h, "tcp", 21); err != nil {
		s.Proc.Stop()
		return nil, fmt.Errorf("netlab: vsftpd did not listen on port 21: %w", err)
	}
	return s, nil
}

// ProtocolLog returns vsftpd's log so far.
func (s *FTPServer) ProtocolLog() string {
	b, _ := os.ReadFile(s.Log)
	return string(b)
}
