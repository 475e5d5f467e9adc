package apiv1

// UpdateLabelDefinition is the body of PATCH /v1/label-definitions/{id}
// (the contract's LabelDefinitionUpdateRequest): every field is optional;
// scope, local_key, cardinality and immutable are fixed at creation.
type UpdateLabelDefinition struct {
	Description         *string      `json:"description,omitempty" maxLength:"1024"`
	ValueSchema         *ValueSchema `json:"value_schema,omitempty"`
	ApplicableKinds     []string     `json:"applicable_kinds,omitempty" maxItems:"16"`
	Required            *bool        `json:"required,omitempty"`
	DefaultValue        *string      `json:"default_value,omitempty" maxLength:"256"`
	CloudTagPropagation *bool        `json:"cloud_tag_propagation,omitempty"`
	OnDelete            *string      `json:"on_delete,omitempty" enum:"block,cascade,orphan"`
}

// LabelAssignmentCounts counts the assignments a refused label Definition
// change concerns: those it would invalidate (a narrowed schema or kinds)
// or leave without their Definition (a blocked delete).
type LabelAssignmentCounts struct {
	Assignments int `json:"assignments"`
	Objects     int `json:"objects"`
}
