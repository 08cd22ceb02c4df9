package proxy_test

import (
	"testing"
	"time"

	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/proxy"
)

// Status names the server holding each of this host's triggers: its public
// one, and the private one given to each peer once a session is up.
func TestStatusTriggersNameTheirServer(t *testing.T) {
	o, laptop, home := pair(t, nil, nil)
	sessionUp(t, laptop, home)
	srv := o.servers[0]
	for _, h := range []*host{laptop, home} {
		peer := map[*host]string{laptop: "home", home: "laptop"}[h]
		var ts []proxy.TriggerStatus
		testwait.Within(t, 10*time.Second, h.Name+"'s public and private triggers acked", func() bool {
			ts = h.PX.Status().Triggers
			return len(ts) == 2 && ts[0].Server.IsValid() && ts[1].Server.IsValid()
		})
		pub, priv := ts[0], ts[1]
		if pub.Kind != "public" || pub.Server != srv || pub.ID == "" || pub.Acked.IsZero() {
			t.Errorf("%s: public trigger %+v, want one held by %v", h.Name, pub, srv)
		}
		if priv.Kind != "private" || priv.Peer != peer || priv.Server != srv || priv.Lapsed || priv.Error != "" {
			t.Errorf("%s: private trigger %+v, want %s's held by %v", h.Name, priv, peer, srv)
		}
	}
}
