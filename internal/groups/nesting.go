package groups

import "errors"

// Reasons a group may not join another group.
var (
	errCycle   = errors.New("groups: membership would close a cycle")
	errTooDeep = errors.New("groups: membership would nest groups too deeply")
)

// checkNesting decides whether group child may become a member of group
// parent, given the existing group-in-group memberships (parent → children):
// not when parent is child or one of child's (transitive) members (a
// cycle), nor when the longest chain of groups through the new membership
// would exceed maxNesting groups. Existing cycles (which this package never
// writes) are walked over, not followed forever.
func checkNesting(children map[string][]string, parent, child string, maxNesting int) error {
	if parent == child || reaches(children, child, parent) {
		return errCycle
	}
	parents := map[string][]string{}
	for p, cs := range children {
		for _, c := range cs {
			parents[c] = append(parents[c], p)
		}
	}
	if longest(parents, parent, map[string]int{}, map[string]bool{})+longest(children, child, map[string]int{}, map[string]bool{}) > maxNesting {
		return errTooDeep
	}
	return nil
}

// reaches reports whether to is from or reachable from it along edges.
func reaches(edges map[string][]string, from, to string) bool {
	seen := map[string]bool{from: true}
	stack := []string{from}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n == to {
			return true
		}
		for _, m := range edges[n] {
			if !seen[m] {
				seen[m] = true
				stack = append(stack, m)
			}
		}
	}
	return false
}

// longest counts the groups on the longest chain that starts at n and
// follows edges (n itself included).
func longest(edges map[string][]string, n string, memo map[string]int, onPath map[string]bool) int {
	if v, ok := memo[n]; ok {
		return v
	}
	if onPath[n] {
		return 0
	}
	onPath[n] = true
	best := 0
	for _, m := range edges[n] {
		best = max(best, longest(edges, m, memo, onPath))
	}
	onPath[n] = false
	memo[n] = best + 1
	return best + 1
}
