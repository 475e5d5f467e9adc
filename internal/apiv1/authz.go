package apiv1

import "time"

// AuthzCheck is the body of POST /v1/authz/check.
type AuthzCheck struct {
	Subject       string         `json:"subject" minLength:"1" maxLength:"400" doc:"type:id or type:id#relation."`
	Relation      string         `json:"relation" minLength:"1" maxLength:"64"`
	Resource      string         `json:"resource" minLength:"1" maxLength:"400" doc:"type:id, or platform."`
	CaveatContext map[string]any `json:"caveat_context,omitempty" x-plexsphere-names-only:"true"`
}

// AuthzDecision answers a check; a denial is data, not an error.
type AuthzDecision struct {
	Decision      string   `json:"decision" enum:"allowed,denied"`
	RelationPath  []string `json:"relation_path,omitempty"`
	Reason        string   `json:"reason,omitempty" enum:"granted,out_of_scope,insufficient_relation,caveat_violation,unknown"`
	CorrelationID string   `json:"correlation_id"`
}

// AuthzLookupResources is the body of POST /v1/authz/lookup-resources.
type AuthzLookupResources struct {
	Subject       string         `json:"subject" minLength:"1" maxLength:"400"`
	Relation      string         `json:"relation" minLength:"1" maxLength:"64"`
	ResourceType  string         `json:"resource_type" minLength:"1" maxLength:"64"`
	CaveatContext map[string]any `json:"caveat_context,omitempty" x-plexsphere-names-only:"true"`
}

// AuthzResources lists the objects a subject reaches (not paginated).
type AuthzResources struct {
	Items         []string `json:"items" nullable:"false"`
	CorrelationID string   `json:"correlation_id"`
}

// RelationTuple is a stored tuple (api.md §3.3).
type RelationTuple struct {
	ID            string         `json:"id" format:"uuid"`
	Subject       string         `json:"subject"`
	Relation      string         `json:"relation"`
	Resource      string         `json:"resource"`
	CaveatName    string         `json:"caveat_name,omitempty"`
	CaveatContext map[string]any `json:"caveat_context,omitempty" x-plexsphere-names-only:"true"`
	CreatedAt     time.Time      `json:"created_at"`
}

// WriteRelationTuple is the body of POST /v1/authz/relation-tuples.
type WriteRelationTuple struct {
	Subject       string         `json:"subject" minLength:"1" maxLength:"400"`
	Relation      string         `json:"relation" minLength:"1" maxLength:"64"`
	Resource      string         `json:"resource" minLength:"1" maxLength:"400"`
	CaveatName    string         `json:"caveat_name,omitempty" maxLength:"64"`
	CaveatContext map[string]any `json:"caveat_context,omitempty" x-plexsphere-names-only:"true"`
}

// AuthzExpand is the body of POST /v1/authz/expand.
type AuthzExpand struct {
	Relation string `json:"relation" minLength:"1" maxLength:"64"`
	Resource string `json:"resource" minLength:"1" maxLength:"400"`
	MaxDepth int    `json:"max_depth,omitempty" minimum:"0" maximum:"16" doc:"Default 8."`
}

// AuthzExpansion is a permission's expansion tree.
type AuthzExpansion struct {
	Tree          *ExpandNode `json:"tree"`
	CorrelationID string      `json:"correlation_id"`
}

// ExpandNode is one node of an expansion tree.
type ExpandNode struct {
	Kind      string        `json:"kind" enum:"union,intersection,exclusion,leaf"`
	Relation  string        `json:"relation,omitempty"`
	Resource  string        `json:"resource,omitempty"`
	Subjects  []string      `json:"subjects,omitempty"`
	Children  []*ExpandNode `json:"children,omitempty"`
	Truncated bool          `json:"truncated,omitempty"`
}
