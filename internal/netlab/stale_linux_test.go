package netlab

import "testing"

func TestIsStale(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"i3t-999999999-1-web", true}, // beyond pid_max: no such process
		{"i3t-1-1-web", false},        // init is alive
		{"i3t-999999999-web", false},  // not ours
		{"other-999999999-1-web", false},
	}
	for _, tt := range tests {
		if got := isStale(tt.name); got != tt.want {
			t.Errorf("isStale(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
