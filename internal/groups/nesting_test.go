package groups

import (
	"errors"
	"testing"
)

func TestCheckNesting(t *testing.T) {
	// a ⊃ b ⊃ c, and d ⊃ c.
	edges := map[string][]string{"a": {"b"}, "b": {"c"}, "d": {"c"}}
	for _, c := range []struct {
		parent, child string
		max           int
		want          error
	}{
		{"a", "a", 8, errCycle},
		{"c", "a", 8, errCycle},
		{"c", "b", 8, errCycle},
		{"b", "d", 8, nil},        // d ⊃ c already; b ⊃ d adds a diamond, no cycle
		{"c", "d", 8, errCycle},   // d ⊃ c
		{"c", "e", 3, errTooDeep}, // a ⊃ b ⊃ c ⊃ e is 4 groups
		{"c", "e", 4, nil},
		{"e", "a", 3, errTooDeep}, // e ⊃ a ⊃ b ⊃ c
		{"e", "a", 4, nil},
	} {
		if got := checkNesting(edges, c.parent, c.child, c.max); !errors.Is(got, c.want) || (c.want == nil && got != nil) {
			t.Errorf("%s ⊃ %s (max %d) = %v, want %v", c.parent, c.child, c.max, got, c.want)
		}
	}
	// An existing cycle (never written here) is walked over, not forever.
	cyclic := map[string][]string{"x": {"y"}, "y": {"x"}}
	if got := checkNesting(cyclic, "z", "x", 8); got != nil {
		t.Errorf("joining a cyclic pair: %v", got)
	}
}
