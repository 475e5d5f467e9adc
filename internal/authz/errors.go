package authz

import "errors"

// Errors returned by this package. They are wrapped with detail (the names
// involved); match them with errors.Is.
var (
	// ErrInvalidRef reports a malformed object, subject or tuple reference.
	ErrInvalidRef = errors.New("invalid reference")
	// ErrUnknownType reports an object or subject type the schema does not define.
	ErrUnknownType = errors.New("unknown object type")
	// ErrUnknownRelation reports a relation the schema does not define on a type.
	ErrUnknownRelation = errors.New("unknown relation")
	// ErrSubjectNotAllowed reports a tuple whose subject type the relation does
	// not accept, or a tuple written to a relation that is not assignable.
	ErrSubjectNotAllowed = errors.New("subject type not allowed for relation")
	// ErrInvalidSchema reports a schema that is malformed beyond unknown names:
	// duplicates, bad expressions, arrows through usersets, or a relation that
	// depends on itself through an exclusion.
	ErrInvalidSchema = errors.New("invalid schema")
	// ErrDepthExceeded reports a check (or the checks confirming a
	// LookupSubjects) that nested deeper than the engine's maximum depth. The
	// answer is unknown; callers must deny.
	ErrDepthExceeded = errors.New("maximum evaluation depth exceeded")
)
