package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
)

// TestLargePackets moves 8 MB each way between laptop and home with curl and
// netcat and checks every byte. The kernels hand the proxies' tun devices
// TCP super-packets of up to 64 KB (segmentation offload): between two
// proxies that take them, they cross whole in chunk frames and are written
// whole into the receiver's tun device (counters whole_out and whole_in);
// when home's proxy runs with --split-large, laptop's proxy splits them in
// software for it instead (split_out), and home's reads them split by tun.
func TestLargePackets(t *testing.T) {
	t.Parallel()
	needProgram(t, "curl", "python3", "nc")
	t.Run("whole", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, topoOptions{})
		moveBothWays(t, w)
		lap, home := w.laptop.mustStatus(t).Counters, w.home.mustStatus(t).Counters
		t.Logf("laptop: whole_out %d whole_in %d split_out %d drop_incomplete %d; home: whole_out %d whole_in %d split_out %d drop_incomplete %d",
			lap["whole_out"], lap["whole_in"], lap["split_out"], lap["drop_incomplete"],
			home["whole_out"], home["whole_in"], home["split_out"], home["drop_incomplete"])
		if lap["whole_out"] == 0 || home["whole_in"] == 0 || home["whole_out"] == 0 || lap["whole_in"] == 0 {
			t.Errorf("large packets did not cross whole: laptop whole_out %d, whole_in %d; home whole_out %d, whole_in %d",
				lap["whole_out"], lap["whole_in"], home["whole_out"], home["whole_in"])
		}
		if lap["split_out"] != 0 || home["split_out"] != 0 {
			t.Errorf("large packets were split between two proxies that take them whole: split_out laptop %d, home %d",
				lap["split_out"], home["split_out"])
		}
	})
	t.Run("split-for-peer", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, topoOptions{homeProxyArgs: []string{"--split-large"}})
		moveBothWays(t, w)
		lap, home := w.laptop.mustStatus(t).Counters, w.home.mustStatus(t).Counters
		t.Logf("laptop: whole_out %d split_out %d; home (--split-large): whole_out %d whole_in %d", lap["whole_out"], lap["split_out"],
			home["whole_out"], home["whole_in"])
		if lap["split_out"] == 0 || lap["whole_out"] != 0 {
			t.Errorf("laptop's proxy should split large packets for home, which takes none whole: split_out %d, whole_out %d",
				lap["split_out"], lap["whole_out"])
		}
		if home["whole_out"] != 0 || home["whole_in"] != 0 || lap["whole_in"] != 0 {
			t.Errorf("with --split-large on home nothing crosses whole: home whole_out %d whole_in %d, laptop whole_in %d",
				home["whole_out"], home["whole_in"], lap["whole_in"])
		}
	})
}

// moveBothWays downloads 8 MB from home to laptop with curl and uploads 8 MB
// from laptop to home with netcat, by name, and checks both arrive intact.
func moveBothWays(t *testing.T, w *world) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	down, up := make([]byte, 8<<20), make([]byte, 8<<20)
	rand.Read(down)
	rand.Read(up)
	writeFile(t, filepath.Join(dir, "down"), down, 0o644)
	writeFile(t, filepath.Join(dir, "up"), up, 0o644)

	startDaemon(t, w.home.Host, "python3", "-m", "http.server", "8081", "--directory", dir)
	if err := netlab.WaitListen(ctx, w.home.Host, "tcp", 8081); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// Into a file: 8 MB through the command's output pipe can outlast the
	// harness's wait for it on a busy machine.
	fetched := filepath.Join(dir, "fetched")
	mustRun(t, ctx, w.laptop.Host, "curl", "-sS", "--fail", "-m", "60", "-o", fetched, "http://home.i3:8081/down")
	got, err := os.ReadFile(fetched)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, down) {
		t.Fatalf("curl http://home.i3:8081/down: %d bytes, not the %d written (or altered)", len(got), len(down))
	}
	t.Logf("curl fetched 8 MiB from home intact in %v", time.Since(start).Round(time.Millisecond))

	received := filepath.Join(dir, "received")
	sink := startDaemon(t, w.home.Host, "sh", "-c", "exec nc -l 9000 > "+received)
	if err := netlab.WaitListen(ctx, w.home.Host, "tcp", 9000); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	mustRun(t, ctx, w.laptop.Host, "sh", "-c", "nc -N home.i3 9000 < "+filepath.Join(dir, "up"))
	select {
	case <-sink.Done():
	case <-ctx.Done():
		t.Fatalf("nc -l on home did not end once laptop's nc closed: %s", sink.Report(1024))
	}
	b, err := os.ReadFile(received)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, up) {
		t.Fatalf("nc to home.i3:9000: home received %d bytes, not the %d sent (or altered)", len(b), len(up))
	}
	t.Logf("nc sent 8 MiB to home intact in %v", time.Since(start).Round(time.Millisecond))
}
