package audit

// ChainHash is the entry hash rule, so tests can rewrite an entry and
// recompute its own hash the way Append does.
var ChainHash = chainHash
