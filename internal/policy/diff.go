package policy

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// ruleKey is a rule without its action and description: the stable key
// the contract's diff pairs "modified" rules by.
func ruleKey(r apiv1.NetworkPolicyRule) string {
	k := r.Protocol + "|" + r.SourceCIDR + "|" + r.DestinationCIDR
	if r.Ports != nil {
		k += fmt.Sprintf("|%d-%d", r.Ports.From, r.Ports.To)
	}
	return k
}

// compareRules orders rules canonically: by key, then action.
func compareRules(a, b apiv1.NetworkPolicyRule) int {
	return cmp.Or(cmp.Compare(ruleKey(a), ruleKey(b)), cmp.Compare(a.Action, b.Action))
}

// canonical returns rules sorted and without duplicates (same key and
// action); descriptions do not count.
func canonical(rules []apiv1.NetworkPolicyRule) []apiv1.NetworkPolicyRule {
	out := slices.Clone(rules)
	slices.SortStableFunc(out, compareRules)
	return slices.CompactFunc(out, func(a, b apiv1.NetworkPolicyRule) bool { return compareRules(a, b) == 0 })
}

// Diff is the structural difference from one revision's rules to
// another's after canonicalisation (a reorder-only edit is empty). A key
// that lost exactly one action and gained exactly one is "modified"; every
// other difference is added or removed. A changed selector is reported
// in SelectorChanged.
func Diff(from, to apiv1.PolicyRevision) apiv1.PolicyDiff {
	d := DiffRules(from.Rules, to.Rules)
	if from.Selector != to.Selector {
		d.SelectorChanged = &apiv1.SelectorChange{Before: from.Selector, After: to.Selector}
	}
	return d
}

// DiffRules is Diff of two rule lists.
func DiffRules(from, to []apiv1.NetworkPolicyRule) apiv1.PolicyDiff {
	before, after := canonical(from), canonical(to)
	d := apiv1.PolicyDiff{Added: []apiv1.NetworkPolicyRule{}, Removed: []apiv1.NetworkPolicyRule{}, Modified: []apiv1.PolicyDiffPair{}}
	var gone, come []apiv1.NetworkPolicyRule
	i, j := 0, 0
	for i < len(before) || j < len(after) {
		switch {
		case j == len(after) || i < len(before) && compareRules(before[i], after[j]) < 0:
			gone = append(gone, before[i])
			i++
		case i == len(before) || compareRules(before[i], after[j]) > 0:
			come = append(come, after[j])
			j++
		default:
			i, j = i+1, j+1
		}
	}
	byKey := func(rs []apiv1.NetworkPolicyRule) map[string][]apiv1.NetworkPolicyRule {
		m := map[string][]apiv1.NetworkPolicyRule{}
		for _, r := range rs {
			m[ruleKey(r)] = append(m[ruleKey(r)], r)
		}
		return m
	}
	goneBy, comeBy := byKey(gone), byKey(come)
	for _, r := range gone {
		k := ruleKey(r)
		if len(goneBy[k]) == 1 && len(comeBy[k]) == 1 {
			d.Modified = append(d.Modified, apiv1.PolicyDiffPair{Before: r, After: comeBy[k][0]})
			continue
		}
		d.Removed = append(d.Removed, r)
	}
	for _, r := range come {
		k := ruleKey(r)
		if len(goneBy[k]) == 1 && len(comeBy[k]) == 1 {
			continue
		}
		d.Added = append(d.Added, r)
	}
	return d
}

// Empty reports whether a diff has no change.
func Empty(d apiv1.PolicyDiff) bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Modified) == 0 && d.SelectorChanged == nil
}
