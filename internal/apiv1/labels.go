package apiv1

import "time"

// ValueSchema constrains the values of a label Definition (api.md §3.4).
type ValueSchema struct {
	Kind    string   `json:"kind" enum:"string,enum,numeric,boolean,regex"`
	MaxLen  *int     `json:"max_len,omitempty" minimum:"1" maximum:"256"`
	Values  []string `json:"values,omitempty" maxItems:"256"`
	Min     *int64   `json:"min,omitempty"`
	Max     *int64   `json:"max,omitempty"`
	Pattern string   `json:"pattern,omitempty" maxLength:"512"`
}

// LabelDefinition declares a label key and the values it accepts.
type LabelDefinition struct {
	ID                  string      `json:"id" format:"uuid"`
	Scope               string      `json:"scope" enum:"platform,domain,project"`
	ScopeID             string      `json:"scope_id" format:"uuid"`
	LocalKey            string      `json:"local_key"`
	QualifiedKey        string      `json:"qualified_key"`
	ValueSchema         ValueSchema `json:"value_schema"`
	ApplicableKinds     []string    `json:"applicable_kinds"`
	OnDelete            string      `json:"on_delete" enum:"block,cascade,orphan"`
	Cardinality         int         `json:"cardinality"`
	Immutable           bool        `json:"immutable"`
	Required            bool        `json:"required,omitempty"`
	DefaultValue        string      `json:"default_value,omitempty"`
	CloudTagPropagation bool        `json:"cloud_tag_propagation"`
	Description         string      `json:"description,omitempty"`
	CreatedBy           string      `json:"created_by" enum:"user,system"`
	CreatedAt           time.Time   `json:"created_at"`
	UpdatedAt           time.Time   `json:"updated_at"`
}

// CreateLabelDefinition is the body of POST /v1/label-definitions. Scope is
// `platform`, `domain` or `project` with ScopeID, or the compact
// `domain:<uuid>` / `project:<uuid>` form.
type CreateLabelDefinition struct {
	Scope               string      `json:"scope" maxLength:"128"`
	ScopeID             string      `json:"scope_id,omitempty" maxLength:"64"`
	LocalKey            string      `json:"local_key" pattern:"^[a-z0-9._-]{1,64}$"`
	ValueSchema         ValueSchema `json:"value_schema"`
	ApplicableKinds     []string    `json:"applicable_kinds,omitempty" maxItems:"16"`
	Description         string      `json:"description,omitempty" maxLength:"1024"`
	Required            bool        `json:"required,omitempty"`
	DefaultValue        string      `json:"default_value,omitempty" maxLength:"256"`
	Immutable           bool        `json:"immutable,omitempty"`
	CloudTagPropagation bool        `json:"cloud_tag_propagation,omitempty"`
	OnDelete            string      `json:"on_delete,omitempty" enum:"block,cascade,orphan"`
	Cardinality         *int        `json:"cardinality,omitempty" minimum:"0" maximum:"64"`
}

// LabelAssignment is one label value on one object.
type LabelAssignment struct {
	DefinitionID string    `json:"definition_id" format:"uuid"`
	QualifiedKey string    `json:"qualified_key"`
	ObjectKind   string    `json:"object_kind"`
	ObjectID     string    `json:"object_id" format:"uuid"`
	Value        string    `json:"value"`
	AssignedBy   string    `json:"assigned_by"`
	AssignedAt   time.Time `json:"assigned_at"`
}

// AssignLabel is the body of PUT /v1/objects/{kind}/{id}/labels.
type AssignLabel struct {
	DefinitionID string `json:"definition_id" maxLength:"64"`
	Value        string `json:"value" maxLength:"256"`
}

// SelectorPreviewRequest is the body of POST /v1/labels/selectors/preview.
type SelectorPreviewRequest struct {
	Expression string `json:"expression" maxLength:"4096"`
}

// SelectorNode is the selector AST (api.md §3.4).
type SelectorNode struct {
	Op       string         `json:"op" enum:"eq,neq,in,notin,exists,absent,and"`
	Key      string         `json:"key,omitempty"`
	Value    *string        `json:"value,omitempty"`
	Values   []string       `json:"values,omitempty"`
	Children []SelectorNode `json:"children,omitempty"`
}

// SelectorError locates one syntax error by byte offset.
type SelectorError struct {
	Position int    `json:"position"`
	Message  string `json:"message"`
}

// SelectorPreview is the answer of the preview: an AST or errors.
type SelectorPreview struct {
	AST    *SelectorNode   `json:"ast,omitempty"`
	Errors []SelectorError `json:"errors,omitempty"`
}
