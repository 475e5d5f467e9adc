package audit

import "github.com/plexsphere/plexsphere/internal/apiv1"

// The chain stores, and hashes, the reason and decision a request ended
// with: a ReBAC reason (granted, insufficient_relation, …) or the problem
// code of a refused or failed request (unauthenticated, rate_limited, …),
// and allowed, denied or none. The contract shows only its AuditReason
// values, as reason and as decision.result; the stored values travel as
// reason_detail and decision.result_detail (issue 8). Only the output is
// mapped, so every hash stays what it was.

// contractReasons are the stored reasons the contract shows as they are.
var contractReasons = map[string]bool{
	apiv1.AuditReasonGranted: true, apiv1.AuditReasonOutOfScope: true,
	apiv1.AuditReasonInsufficientRelation: true, apiv1.AuditReasonCaveatViolation: true,
}

// WireReason maps a stored reason, decision and outcome to the contract's
// AuditReason:
//   - a ReBAC reason is shown as it is;
//   - an allowed decision, or a success without a check, is granted (a
//     request that failed after its check was granted: its code is the
//     detail);
//   - a denied decision is insufficient_relation;
//   - a request refused before any check (no credential, rate limited) is
//     out_of_scope: the caller held nothing on the object;
//   - anything else (a failure before any check) is unknown.
func WireReason(reason, decision, outcome string) string {
	switch {
	case contractReasons[reason]:
		return reason
	case decision == "allowed" || decision != "denied" && outcome == Succeeded:
		return apiv1.AuditReasonGranted
	case decision == "denied":
		return apiv1.AuditReasonInsufficientRelation
	case outcome == Denied:
		return apiv1.AuditReasonOutOfScope
	default:
		return apiv1.AuditReasonUnknown
	}
}

// wireReasonSQL is WireReason over the audit_entries columns, for the list
// filter; TestWireReasonSQL holds the two to the same answers.
const wireReasonSQL = `CASE
	WHEN reason IN ('granted', 'out_of_scope', 'insufficient_relation', 'caveat_violation') THEN reason
	WHEN decision_result = 'allowed' OR (decision_result <> 'denied' AND outcome = 'succeeded') THEN 'granted'
	WHEN decision_result = 'denied' THEN 'insufficient_relation'
	WHEN outcome = 'denied' THEN 'out_of_scope'
	ELSE 'unknown' END`

// isWireReason reports whether s is one of the contract's AuditReason values.
func isWireReason(s string) bool {
	return contractReasons[s] || s == apiv1.AuditReasonUnknown
}

// caveatContext renders stored caveat names as the contract's map from
// caveat name to parameter names. The chain records names only, so each
// caveat maps to an empty list.
func caveatContext(names []string) map[string][]string {
	out := make(map[string][]string, len(names))
	for _, n := range names {
		if n != "" {
			out[n] = []string{}
		}
	}
	return out
}
