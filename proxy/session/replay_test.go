package session

import "testing"

func TestReplayWindow(t *testing.T) {
	type step struct {
		n    uint64
		want error
	}
	W := uint64(ReplayWindow)
	tests := []struct {
		name  string
		steps []step
	}{
		{"in order", []step{{0, nil}, {1, nil}, {2, nil}, {3, nil}}},
		{"zero first and again", []step{{0, nil}, {0, ErrReplay}}},
		{"reordered", []step{{5, nil}, {3, nil}, {4, nil}, {0, nil}, {3, ErrReplay}, {5, ErrReplay}}},
		{"gaps stay open", []step{{0, nil}, {1000, nil}, {500, nil}, {999, nil}, {500, ErrReplay}}},
		{"window edge", []step{{W + 10, nil}, {10, nil}, {9, ErrTooOld}, {10, ErrReplay}}},
		{"big jump clears the ring", []step{{1, nil}, {64*replayBlocks*3 + 1, nil}, {64*replayBlocks*3 - 64, nil}, {1, ErrTooOld}}},
		{"one block ahead reuses a slot", []step{{5, nil}, {5 + 64*(replayBlocks-1), nil}, {5 + 64*replayBlocks, nil}, {5 + 64, nil}, {5 + 64, ErrReplay}}},
		{"limit", []step{{RejectAfterMessages - 1, nil}, {RejectAfterMessages, ErrExhausted}, {RejectAfterMessages - 1, ErrReplay}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w replayWindow
			for i, s := range tt.steps {
				before := w
				if err := w.check(s.n); err != s.want {
					t.Fatalf("step %d: check(%d) = %v, want %v", i, s.n, err, s.want)
				}
				if w != before {
					t.Fatalf("step %d: check changed the window", i)
				}
				if err := w.accept(s.n); err != s.want {
					t.Fatalf("step %d: accept(%d) = %v, want %v", i, s.n, err, s.want)
				}
			}
		})
	}
}

// Against a model: a set of every counter accepted and the highest.
func TestReplayWindowModel(t *testing.T) {
	var w replayWindow
	seen := map[uint64]bool{}
	var last uint64
	x := uint64(12345)
	for i := range 200000 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		var n uint64
		switch i % 4 {
		case 0:
			n = last + x%300
		case 1:
			n = last - min(last, x%(ReplayWindow+200))
		default:
			n = last + 1 - min(last+1, x%64)
		}
		want := error(nil)
		switch {
		case n > last:
		case last-n > ReplayWindow:
			want = ErrTooOld
		case seen[n]:
			want = ErrReplay
		}
		if err := w.accept(n); err != want {
			t.Fatalf("step %d: accept(%d) with last %d = %v, want %v", i, n, last, err, want)
		}
		if want == nil {
			seen[n] = true
			last = max(last, n)
		}
	}
}
