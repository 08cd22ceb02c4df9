package proxy

import (
	"encoding/json"
	"net"
	"strconv"
	"sync"
	"time"
)

// maxAlerts is how many IDS alerts the status keeps (the newest).
const maxAlerts = 50

// AlertStatus is an IDS alert a middlebox this host imposes sent back (paper
// §6.4.1), as "i3net status" shows it.
type AlertStatus struct {
	Time      time.Time       `json:"time"`
	Middlebox string          `json:"middlebox"`
	Signature string          `json:"signature,omitempty"`
	Severity  int             `json:"severity,omitempty"`
	Src       string          `json:"src,omitempty"`
	Dst       string          `json:"dst,omitempty"`
	Proto     string          `json:"proto,omitempty"`
	Event     json.RawMessage `json:"event"` // the IDS's own record (Suricata's eve.json line)
}

// alertLog keeps the newest alerts.
type alertLog struct {
	mu   sync.Mutex
	list []AlertStatus
}

func (l *alertLog) add(a AlertStatus) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, a)
	if len(l.list) > maxAlerts {
		l.list = l.list[len(l.list)-maxAlerts:]
	}
}

func (l *alertLog) all() []AlertStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]AlertStatus(nil), l.list...)
}

// eveAlert is what an alert says in Suricata's eve.json.
type eveAlert struct {
	SrcIP   string `json:"src_ip"`
	SrcPort int    `json:"src_port"`
	DstIP   string `json:"dest_ip"`
	DstPort int    `json:"dest_port"`
	Proto   string `json:"proto"`
	Alert   struct {
		Signature string `json:"signature"`
		Severity  int    `json:"severity"`
	} `json:"alert"`
}

// alertFrame handles an alert frame on this host's public id: it is kept
// and logged if a middlebox this host imposes made it (its pass tag checks),
// dropped and counted otherwise. It runs on the client's receive goroutine.
func (px *Proxy) alertFrame(frame []byte) {
	for _, mb := range px.mbs.all() {
		event, err := mb.tagIn.OpenAlert(frame)
		if err != nil {
			continue
		}
		px.stats.mbAlerts.Add(1)
		a := AlertStatus{Time: time.Now(), Middlebox: mb.name, Event: json.RawMessage(append([]byte(nil), event...))}
		var e eveAlert
		if json.Unmarshal(event, &e) == nil {
			a.Signature, a.Severity, a.Proto = e.Alert.Signature, e.Alert.Severity, e.Proto
			a.Src, a.Dst = hostPort(e.SrcIP, e.SrcPort), hostPort(e.DstIP, e.DstPort)
		}
		if !json.Valid(a.Event) {
			a.Event, _ = json.Marshal(string(event))
		}
		px.alerts.add(a)
		px.log.Warn("IDS alert from the middlebox", "middlebox", mb.name, "signature", a.Signature,
			"src", a.Src, "dst", a.Dst, "proto", a.Proto)
		return
	}
	px.stats.dropAuth.Add(1)
}

func hostPort(ip string, port int) string {
	if ip == "" || port == 0 {
		return ip
	}
	return net.JoinHostPort(ip, strconv.Itoa(port))
}
