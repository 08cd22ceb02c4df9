package ingress

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/internal/atomicfile"
	"github.com/i3net/i3net/proxy/publish"
)

// The publications are saved in the state directory whenever they change,
// and read at start, so a restarted ingress answers for the published names
// at once instead of after the hosts' next offer (each keeps its age and
// expires as it would have).

// savedHost is one host's services in the file.
type savedHost struct {
	Key      identity.PublicKey `json:"key"`
	Name     string             `json:"name"`
	Services []publish.Service  `json:"services"`
	At       time.Time          `json:"offered_at"`
}

// save writes the publications to path (when path is set).
func (ps *publications) save(path string) error {
	if path == "" {
		return nil
	}
	ps.mu.Lock()
	var hosts []savedHost
	for k, h := range ps.byHost {
		hosts = append(hosts, savedHost{Key: k, Name: h.name, Services: h.services, At: h.at})
	}
	ps.mu.Unlock()
	b, err := json.MarshalIndent(hosts, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o600, atomicfile.Options{MkdirPerm: 0o700})
}

// load reads the publications saved at path; a missing file is none.
func (ps *publications) load(path string) error {
	b, err := os.ReadFile(path)
	if path == "" || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ingress: saved publications: %w", err)
	}
	var hosts []savedHost
	if err := json.Unmarshal(b, &hosts); err != nil {
		return fmt.Errorf("ingress: saved publications %s: %w (remove the file: hosts offer their services again within 30 s)", path, err)
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.byHost = make(map[identity.PublicKey]*hostServices)
	for _, h := range hosts {
		ps.byHost[h.Key] = &hostServices{name: h.Name, services: h.Services, at: h.At}
	}
	return nil
}
