package ingress

import (
	"log/slog"
	"slices"
	"testing"
)

// Every counter the ingress reports has a metric, and nothing else does.
func TestEveryCounterHasAMetric(t *testing.T) {
	cfg, err := loadText(t, goodConfig)
	if err != nil {
		t.Fatal(err)
	}
	g := &Ingress{cfg: cfg, log: slog.Default()}
	if err := g.openParts(); err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range g.Counters() {
		names = append(names, k)
		if metricHelp[k] == "" {
			t.Errorf("counter %s has no metric", k)
		}
	}
	for k := range metricHelp {
		if !slices.Contains(names, k) {
			t.Errorf("metric %s has no counter", k)
		}
	}
}
