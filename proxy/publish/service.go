package publish

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/i3net/i3net/proxy/book"
)

// Service is one service published to an ingress.
type Service struct {
	// Ingress is the ingress's name in the host's address book.
	Ingress string `toml:"ingress"`
	// Name is the service's name under the ingress's zone: the host's name
	// in the ingress's book ("home"), or a name under it ("www.home").
	Name string `toml:"name"`
	// Port is the TCP port the ingress exposes, and the one it connects to.
	Port uint16 `toml:"port"`
	// ProxyProtocol makes the ingress start each connection with a PROXY
	// protocol v2 header naming the client (for servers configured to
	// expect one, such as nginx's "listen 80 proxy_protocol").
	ProxyProtocol bool `toml:"proxy_protocol"`
}

// MaxServices bounds the services a host publishes to one ingress (a message
// carries them all).
const MaxServices = 64

// Check reports what is wrong with s, as a sentence that says what to write.
func (s Service) Check() error {
	if err := book.CheckName(s.Ingress); err != nil {
		return fmt.Errorf("ingress %q: %w (the ingress's name in the address book)", s.Ingress, err)
	}
	if err := CheckName(s.Name); err != nil {
		return err
	}
	if s.Port == 0 {
		return fmt.Errorf("service %s: port 0: give the TCP port to expose (1-65535)", s.Name)
	}
	return nil
}

// CheckName checks a service name: lower-case DNS labels of letters, digits
// and hyphens, dot-separated, at most 200 bytes.
func CheckName(name string) error {
	if name == "" || len(name) > 200 {
		return fmt.Errorf("service name %q: give 1 to 200 bytes of DNS labels (\"home\", \"www.home\")", name)
	}
	for _, l := range strings.Split(name, ".") {
		if !validLabel(l) {
			return fmt.Errorf("service name %q: label %q: use lower-case letters, digits and inner hyphens", name, l)
		}
	}
	return nil
}

func validLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Sort orders services by ingress, name and port.
func Sort(s []Service) {
	slices.SortFunc(s, func(a, b Service) int {
		return cmp.Or(cmp.Compare(a.Ingress, b.Ingress), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Port, b.Port))
	})
}

// For returns the services of s published to ingress.
func For(s []Service, ingress string) []Service {
	var out []Service
	for _, x := range s {
		if x.Ingress == ingress {
			out = append(out, x)
		}
	}
	return out
}

// Ingresses returns the ingresses s names, sorted, each once.
func Ingresses(s []Service) []string {
	var out []string
	for _, x := range s {
		out = append(out, x.Ingress)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
