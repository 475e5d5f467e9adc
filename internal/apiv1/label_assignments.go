package apiv1

// LabelAssignmentList is the answer of GET /v1/objects/{kind}/{id}/labels.
// An object holds at most 64 assignments, so the list envelope comes
// without next_cursor (api.md §2.5).
type LabelAssignmentList struct {
	Items []LabelAssignment `json:"items"`
}
