package rules

import (
	"errors"
	"strings"
	"testing"
)

func TestCompileAndLookup(t *testing.T) {
	r, err := Compile([]RuleConfig{
		{Match: "*.ads.corp.example", Action: "refuse"},
		{Match: "*.corp.example", Via: "Office-GW"},
		{Match: "*.lab.example", Via: "lab-gw", Action: "VIA"},
		{Match: "public.corp.example.org", Action: "direct"},
		{Match: `re:.*\.test`, Action: "direct"},
		{Match: "*", Via: "default-gw"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		action Action
		via    string
		index  int
	}{
		{"x.ads.corp.example", Refuse, "", 0},
		{"Wiki.Corp.Example.", Via, "office-gw", 1},
		{"ads.corp.example", Via, "office-gw", 1},
		{"git.lab.example", Via, "lab-gw", 2},
		{"public.corp.example.org.", Direct, "", 3},
		{"a.b.test", Direct, "", 4},
		{"example.org", Via, "default-gw", 5},
	}
	for _, tt := range tests {
		rule, ok := r.Lookup(tt.name)
		if !ok || rule.Action != tt.action || rule.Via != tt.via || rule.Index != tt.index {
			t.Errorf("Lookup(%q) = %+v, %v; want %v via %q, rule %d", tt.name, rule, ok, tt.action, tt.via, tt.index)
		}
	}
	all := r.All()
	if len(all) != 6 || all[1].Pattern.String() != "*.corp.example" {
		t.Fatalf("All() = %+v", all)
	}
	all[0].Via = "changed"
	if r.All()[0].Via != "" {
		t.Error("All returned the rules themselves, not a copy")
	}
}

func TestLookupNone(t *testing.T) {
	r, err := Compile(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Lookup("a.example"); ok {
		t.Error("empty rules matched")
	}
	var nilRules *Rules
	if _, ok := nilRules.Lookup("a.example"); ok || nilRules.All() != nil {
		t.Error("nil rules matched")
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name    string
		cfgs    []RuleConfig
		index   int
		key     string
		msgPart string
	}{
		{"bad pattern", []RuleConfig{{Match: "*.corp.example", Via: "gw"}, {Match: "a..b", Via: "gw"}}, 1, "match", "empty label"},
		{"no match", []RuleConfig{{Via: "gw"}}, 0, "match", "empty"},
		{"no action, no via", []RuleConfig{{Match: "a.example"}}, 0, "action", "missing"},
		{"via without gateway", []RuleConfig{{Match: "a.example", Action: "via"}}, 0, "via", "missing"},
		{"direct with via", []RuleConfig{{Match: "a.example", Action: "direct", Via: "gw"}}, 0, "via", "remove via"},
		{"refuse with via", []RuleConfig{{Match: "a.example", Action: "refuse", Via: "gw"}}, 0, "via", "remove via"},
		{"unknown action", []RuleConfig{{Match: "a.example", Action: "drop"}}, 0, "action", `"via", "direct" or "refuse"`},
		{"bad gateway name", []RuleConfig{{Match: "a.example", Via: "office gw"}}, 0, "via", "address-book name"},
		{"shadowed by *", []RuleConfig{{Match: "*", Action: "direct"}, {Match: "a.example", Via: "gw"}}, 1, "match", "rule[0]"},
		{"shadowed by suffix", []RuleConfig{{Match: "*.corp.example", Via: "gw"}, {Match: "*.eu.corp.example", Via: "eu-gw"}}, 1, "match", "never applies"},
		{"shadowed name", []RuleConfig{{Match: "*.corp.example", Via: "gw"}, {Match: "wiki.corp.example", Action: "direct"}}, 1, "match", "never applies"},
		{"same suffix twice", []RuleConfig{{Match: "*.corp.example", Via: "gw"}, {Match: "*.CORP.example.", Via: "gw2"}}, 1, "match", "never applies"},
		{"same name twice", []RuleConfig{{Match: "a.example", Via: "gw"}, {Match: "a.example", Via: "gw2"}}, 1, "match", "never applies"},
		{"regexp after *", []RuleConfig{{Match: "*", Via: "gw"}, {Match: "re:a", Via: "gw2"}}, 1, "match", "never applies"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.cfgs)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Compile: %v, want a *ConfigError", err)
			}
			if ce.Index != tt.index || ce.Key != tt.key || !strings.Contains(ce.Msg, tt.msgPart) {
				t.Fatalf("got %+v, want rule[%d].%s with %q", ce, tt.index, tt.key, tt.msgPart)
			}
			if !strings.HasPrefix(err.Error(), "rule[") {
				t.Fatalf("error %q does not name the rule", err)
			}
		})
	}
}

func TestCompileKeepsReachableRules(t *testing.T) {
	// Narrow first, then wide; a name and the names under it; regexps are
	// not compared: none of these is refused.
	_, err := Compile([]RuleConfig{
		{Match: "wiki.corp.example", Action: "direct"},
		{Match: "*.corp.example", Via: "gw"},
		{Match: "corp.example", Via: "gw"},
		{Match: "re:.*", Action: "refuse"},
		{Match: "re:.*", Action: "direct"},
		{Match: "*", Action: "direct"},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestActionString(t *testing.T) {
	for a, want := range map[Action]string{Via: "via", Direct: "direct", Refuse: "refuse", 0: "action(0)", 9: "action(9)"} {
		if a.String() != want {
			t.Errorf("%d.String() = %q, want %q", a, a.String(), want)
		}
	}
}
