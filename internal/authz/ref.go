package authz

import (
	"fmt"
	"strings"
)

// Built-in object types of the plexsphere schema (see [DefaultSchema]).
const (
	TypePlatform        = "platform"
	TypeDomain          = "domain"
	TypeProject         = "project"
	TypeResource        = "resource"
	TypeNode            = "node"
	TypePolicy          = "policy"
	TypeSecret          = "secret"
	TypeSession         = "session"
	TypeExecution       = "execution"
	TypeGroup           = "group"
	TypeUser            = "user"
	TypeServiceIdentity = "service_identity"
)

// PlatformID is the id of the platform singleton, as stored in the database
// (relation_tuples.resource_id = 'platform').
const PlatformID = "platform"

// Platform is the platform singleton, written bare as "platform" (api.md
// §2.6); "platform:platform" parses to it too.
var Platform = ObjectRef{Type: TypePlatform, ID: PlatformID}

// bareSingletons maps the singleton types written without an id to that id.
var bareSingletons = map[string]string{TypePlatform: PlatformID}

// Limits on the parts of a reference.
const (
	maxNameLen = 64
	maxIDLen   = 256
)

// typeAliases maps accepted input spellings to the canonical type name
// (api.md §6: service identities are spelled service_identity everywhere,
// but clients of the contract may send service or service-identity).
var typeAliases = map[string]string{
	"service":          TypeServiceIdentity,
	"service-identity": TypeServiceIdentity,
}

// ObjectRef names one object: its type and id.
type ObjectRef struct {
	Type string
	ID   string
}

// String formats the reference as type:id, or bare for the platform.
func (o ObjectRef) String() string {
	if o.ID == "" || bareSingletons[o.Type] == o.ID {
		return o.Type
	}
	return o.Type + ":" + o.ID
}

// Subject returns the object itself as a subject.
func (o ObjectRef) Subject() SubjectRef { return SubjectRef{Object: o} }

// Userset returns the subject set o#relation.
func (o ObjectRef) Userset(relation string) SubjectRef {
	return SubjectRef{Object: o, Relation: relation}
}

// MarshalText implements encoding.TextMarshaler (JSON renders a string).
func (o ObjectRef) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with [ParseObjectRef].
func (o *ObjectRef) UnmarshalText(b []byte) error {
	r, err := ParseObjectRef(string(b))
	if err != nil {
		return err
	}
	*o = r
	return nil
}

// SubjectRef is the subject of a tuple or a check: an object (user:u) or a
// userset (group:g#member, every subject holding member on group:g).
type SubjectRef struct {
	Object   ObjectRef
	Relation string // empty for an object subject
}

// String formats the subject as type:id or type:id#relation.
func (s SubjectRef) String() string {
	if s.Relation == "" {
		return s.Object.String()
	}
	return s.Object.String() + "#" + s.Relation
}

// Type returns the subject's type: its object type, plus the relation for a
// userset.
func (s SubjectRef) Type() SubjectType {
	return SubjectType{Type: s.Object.Type, Relation: s.Relation}
}

// MarshalText implements encoding.TextMarshaler.
func (s SubjectRef) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with [ParseSubjectRef].
func (s *SubjectRef) UnmarshalText(b []byte) error {
	r, err := ParseSubjectRef(string(b))
	if err != nil {
		return err
	}
	*s = r
	return nil
}

// SubjectType is a kind of subject a relation accepts: objects of Type, or,
// with Relation set, usersets Type:*#Relation.
type SubjectType struct {
	Type     string
	Relation string
}

// String formats the subject type as type or type#relation.
func (t SubjectType) String() string {
	if t.Relation == "" {
		return t.Type
	}
	return t.Type + "#" + t.Relation
}

// Tuple is one stored relationship: Subject has Relation on Resource.
type Tuple struct {
	Resource ObjectRef
	Relation string
	Subject  SubjectRef
}

// String formats the tuple as resource#relation@subject.
func (t Tuple) String() string {
	return t.Resource.String() + "#" + t.Relation + "@" + t.Subject.String()
}

// Validate checks the tuple's syntax (not its schema; see [Schema.ValidateTuple]).
func (t Tuple) Validate() error {
	if err := validateObject(t.Resource); err != nil {
		return fmt.Errorf("tuple %s: resource: %w", t, err)
	}
	if !validRelation(t.Relation) {
		return fmt.Errorf("%w: tuple %s: bad relation name %.80q", ErrInvalidRef, t, t.Relation)
	}
	if err := validateSubject(t.Subject); err != nil {
		return fmt.Errorf("tuple %s: subject: %w", t, err)
	}
	return nil
}

// ParseObjectRef parses type:id, or "platform". The type aliases service and
// service-identity become service_identity.
func ParseObjectRef(s string) (ObjectRef, error) {
	typ, id, hasID := strings.Cut(s, ":")
	if canon, ok := typeAliases[typ]; ok {
		typ = canon
	}
	if !hasID {
		id = bareSingletons[typ]
	}
	o := ObjectRef{Type: typ, ID: id}
	if err := validateObject(o); err != nil {
		return ObjectRef{}, fmt.Errorf("%w (in %.80q)", err, s)
	}
	return o, nil
}

// ParseSubjectRef parses type:id or type:id#relation ("platform" and
// "platform#relation" included).
func ParseSubjectRef(s string) (SubjectRef, error) {
	obj, rel, hasRel := strings.Cut(s, "#")
	o, err := ParseObjectRef(obj)
	if err != nil {
		return SubjectRef{}, err
	}
	if hasRel && !validRelation(rel) {
		return SubjectRef{}, fmt.Errorf("%w: %.80q: bad relation name", ErrInvalidRef, s)
	}
	return SubjectRef{Object: o, Relation: rel}, nil
}

// ParseSubjectType parses type or type#relation.
func ParseSubjectType(s string) (SubjectType, error) {
	typ, rel, hasRel := strings.Cut(s, "#")
	if canon, ok := typeAliases[typ]; ok {
		typ = canon
	}
	if !validType(typ) || (hasRel && !validRelation(rel)) {
		return SubjectType{}, fmt.Errorf("%w: %.80q: want type or type#relation", ErrInvalidRef, s)
	}
	return SubjectType{Type: typ, Relation: rel}, nil
}

// ParseTuple parses resource#relation@subject, the form [Tuple.String] writes.
func ParseTuple(s string) (Tuple, error) {
	left, subj, ok := strings.Cut(s, "@")
	if !ok {
		return Tuple{}, fmt.Errorf("%w: %.80q: want resource#relation@subject", ErrInvalidRef, s)
	}
	res, rel, ok := strings.Cut(left, "#")
	if !ok {
		return Tuple{}, fmt.Errorf("%w: %.80q: want resource#relation@subject", ErrInvalidRef, s)
	}
	r, err := ParseObjectRef(res)
	if err != nil {
		return Tuple{}, err
	}
	sub, err := ParseSubjectRef(subj)
	if err != nil {
		return Tuple{}, err
	}
	t := Tuple{Resource: r, Relation: rel, Subject: sub}
	if err := t.Validate(); err != nil {
		return Tuple{}, err
	}
	return t, nil
}

func validateObject(o ObjectRef) error {
	if !validType(o.Type) {
		return fmt.Errorf("%w: bad type name %.80q", ErrInvalidRef, o.Type)
	}
	if o.ID == "" {
		return fmt.Errorf("%w: %s needs an id (%s:<id>)", ErrInvalidRef, o.Type, o.Type)
	}
	if !validID(o.ID) {
		return fmt.Errorf("%w: bad id %.80q for type %s", ErrInvalidRef, o.ID, o.Type)
	}
	return nil
}

func validateSubject(s SubjectRef) error {
	if err := validateObject(s.Object); err != nil {
		return err
	}
	if s.Relation != "" && !validRelation(s.Relation) {
		return fmt.Errorf("%w: bad relation name %.80q", ErrInvalidRef, s.Relation)
	}
	return nil
}

// validType accepts [a-z][a-z0-9_]{0,63}.
func validType(s string) bool {
	if s == "" || len(s) > maxNameLen || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// validRelation accepts [a-z][a-z0-9_-]{0,63}.
func validRelation(s string) bool {
	if s == "" || len(s) > maxNameLen || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validID accepts 1..256 of [A-Za-z0-9._~|/=+-]; ':', '#', '@', '*' and
// whitespace are reserved by the reference syntax.
func validID(s string) bool {
	if s == "" || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("._~|/=+-", c) >= 0:
		default:
			return false
		}
	}
	return true
}
