package rules

import (
	"errors"
	"strings"
	"testing"
)

func TestAnonymousRules(t *testing.T) {
	r, err := Compile([]RuleConfig{
		{Match: "*.example", Via: "GW", Anonymous: true},
		{Match: "*.example.org", Via: "gw", Action: "via", Anonymous: true},
		{Match: "*.corp", Via: "office"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rule, ok := r.Lookup("www.example"); !ok || !rule.Anonymous || rule.Via != "gw" {
		t.Errorf("Lookup(www.example) = %+v, %v; want anonymous via gw", rule, ok)
	}
	if !r.Anonymous("gw") || r.Anonymous("office") || r.Anonymous("nobody") {
		t.Error("Anonymous(gw) should be true, Anonymous(office) and Anonymous(nobody) false")
	}
	var none *Rules
	if none.Anonymous("gw") {
		t.Error("nil rules reach a gateway anonymously")
	}
}

func TestAnonymousRuleErrors(t *testing.T) {
	tests := []struct {
		name  string
		cfgs  []RuleConfig
		index int
		key   string
		msg   string
	}{
		{"without via", []RuleConfig{{Match: "*.example", Anonymous: true}}, 0, "anonymous", "without via"},
		{"with direct", []RuleConfig{{Match: "*.example", Action: "direct", Anonymous: true}}, 0, "anonymous", "needs via"},
		{"with refuse", []RuleConfig{{Match: "*.example", Action: "refuse", Anonymous: true}}, 0, "anonymous", "needs via"},
		{"gateway both ways", []RuleConfig{
			{Match: "*.a.example", Via: "gw", Anonymous: true},
			{Match: "*.b.example", Via: "GW"},
		}, 1, "via", `rule[0] sends through gateway "gw" with anonymous = true`},
		{"gateway both ways, other order", []RuleConfig{
			{Match: "*.a.example", Via: "gw"},
			{Match: "*.b.example", Via: "gw", Anonymous: true},
		}, 1, "anonymous", "reached one way"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.cfgs)
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Index != tt.index || ce.Key != tt.key || !strings.Contains(ce.Msg, tt.msg) {
				t.Fatalf("Compile = %v; want rule[%d].%s: …%s…", err, tt.index, tt.key, tt.msg)
			}
		})
	}
}
