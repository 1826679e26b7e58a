package gateway

import "testing"

func TestClientJoinPolicy(t *testing.T) {
	tests := []struct {
		spec    string
		allowed []string
		refused []string
		bad     bool
	}{
		{spec: "any", allowed: []string{"x", "user:1"}},
		{spec: "", allowed: []string{"x"}},
		{spec: "none", refused: []string{"x", "none"}},
		{spec: "chat:, team:", allowed: []string{"chat:a", "team:", "team:b"}, refused: []string{"chat", "user:1", " team:x"}},
		{spec: "chat:,,team:", bad: true},
		{spec: "chat:,", bad: true},
	}
	for _, tt := range tests {
		p, err := parseClientJoin(tt.spec)
		if (err != nil) != tt.bad {
			t.Errorf("%q: err %v", tt.spec, err)
			continue
		}
		for _, r := range tt.allowed {
			if !p.allows(r) {
				t.Errorf("%q refuses %q", tt.spec, r)
			}
		}
		for _, r := range tt.refused {
			if p.allows(r) {
				t.Errorf("%q allows %q", tt.spec, r)
			}
		}
	}
}
