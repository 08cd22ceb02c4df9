package ring

import (
	"log/slog"
	"net"
	"testing"

	"github.com/hashicorp/memberlist"
)

// eventRing is a Ring without memberlist: the tests call its event delegate
// as memberlist would, and watch the snapshots it publishes.
func eventRing(t *testing.T, local Member) (*Ring, *[][2]*Snapshot) {
	t.Helper()
	var changes [][2]*Snapshot
	r := &Ring{
		cfg:     Config{OnChange: func(old, new *Snapshot) { changes = append(changes, [2]*Snapshot{old, new}) }},
		log:     slog.New(slog.DiscardHandler),
		local:   local,
		members: map[string]Member{},
	}
	r.snap.Store(NewSnapshot(local, nil, 0))
	return r, &changes
}

// node is the memberlist node of m.
func node(m Member) *memberlist.Node {
	return &memberlist.Node{Name: m.Name, Addr: net.IPv4(127, 0, 0, 1), Port: 7946, Meta: appendMeta(nil, m.Data, m.Position, m.Epoch)}
}

func TestEvents(t *testing.T) {
	a, b, c := member("a", 0x20), member("b", 0x80), member("c", 0xe0)
	r, changes := eventRing(t, b)
	ev := events{r}

	ev.NotifyJoin(node(b)) // memberlist reports the local node first
	if len(*changes) != 0 {
		t.Fatalf("the local node's own join changed the membership")
	}
	ev.NotifyJoin(node(a))
	ev.NotifyJoin(node(c))
	if len(*changes) != 2 {
		t.Fatalf("%d changes after two joins", len(*changes))
	}
	last := (*changes)[1]
	if last[0].Len() != 2 || last[1].Len() != 3 || last[1] != r.Snapshot() || last[1].Version() <= last[0].Version() {
		t.Errorf("change from %d to %d members (versions %d, %d)", last[0].Len(), last[1].Len(), last[0].Version(), last[1].Version())
	}
	if r.Responsible(key(0x90)).Name != "c" || r.Snapshot().Owns(key(0x90)) || !r.Snapshot().Owns(key(0x50)) {
		t.Error("lookups after the joins")
	}

	// An update with the same metadata changes nothing; a new position does.
	ev.NotifyUpdate(node(c))
	if len(*changes) != 2 {
		t.Error("an unchanged update was published")
	}
	moved := c
	moved.Position = key(0x60)
	ev.NotifyUpdate(node(moved))
	if len(*changes) != 3 || r.Responsible(key(0x50)).Name != "c" {
		t.Error("a moved member is not where it moved")
	}

	// A restart (the same member, another epoch): a change, so that the
	// handover gives the restarted member back its triggers.
	restarted := moved
	restarted.Epoch = moved.Epoch + 1
	ev.NotifyUpdate(node(restarted))
	if len(*changes) != 4 || r.Snapshot().Members()[1].Epoch != restarted.Epoch {
		t.Fatalf("a restarted member was not published: %d changes, %v", len(*changes), r.Members())
	}
	*changes = (*changes)[:3]
	moved = restarted

	// Metadata of another version leaves the member off the ring.
	bad := node(member("d", 0x90))
	bad.Meta[0] = 9
	ev.NotifyJoin(bad)
	if len(*changes) != 3 || r.Snapshot().Len() != 3 {
		t.Error("a member with unreadable metadata joined")
	}

	// A failure: its range goes to its successor.
	before := r.Snapshot()
	ev.NotifyLeave(node(moved))
	if len(*changes) != 4 || r.Snapshot().Len() != 2 || r.Responsible(key(0x50)).Name != "b" {
		t.Errorf("after c left: %v", r.Members())
	}
	if before.Responsible(key(0x50)).Name != "c" {
		t.Error("the previous snapshot changed")
	}
	ev.NotifyLeave(node(moved)) // twice: nothing
	if len(*changes) != 4 {
		t.Error("a second leave was published")
	}
}
