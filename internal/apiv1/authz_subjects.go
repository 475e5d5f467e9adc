package apiv1

// AuthzLookupSubjects is the body of POST /v1/authz/lookup-subjects (the
// contract's LookupSubjectsRequest).
type AuthzLookupSubjects struct {
	SubjectType   string         `json:"subject_type" minLength:"1" maxLength:"128" doc:"Subject type to enumerate: user, service_identity, or a userset such as group#member."`
	Relation      string         `json:"relation" minLength:"1" maxLength:"64"`
	Resource      string         `json:"resource" minLength:"1" maxLength:"400" doc:"type:id, or platform."`
	CaveatContext map[string]any `json:"caveat_context,omitempty" x-plexsphere-names-only:"true"`
}

// AuthzSubjects lists the subjects that hold a relation on a resource (the
// contract's RebacLookupResponse), sorted. Truncated is our addition: the
// list stopped at the server's bound.
type AuthzSubjects struct {
	Items         []string `json:"items" nullable:"false"`
	CorrelationID string   `json:"correlation_id"`
	Truncated     bool     `json:"truncated,omitempty"`
}

// PatchRelationTuple is the body of PATCH /v1/authz/relation-tuples/{id}
// (the contract's RelationTuplePatchRequest): the tuple's new contents.
type PatchRelationTuple struct {
	Subject       string         `json:"subject" minLength:"1" maxLength:"400"`
	Relation      string         `json:"relation" minLength:"1" maxLength:"64"`
	Resource      string         `json:"resource" minLength:"1" maxLength:"400"`
	CaveatName    string         `json:"caveat_name,omitempty" maxLength:"64"`
	CaveatContext map[string]any `json:"caveat_context,omitempty" x-plexsphere-names-only:"true"`
}
