package canonjson

import "fmt"

// Object writes one canonical JSON object, member by member, into a byte
// slice. Members must be added in canonical order (ascending UTF-16 order of
// their names, as RFC 8785 sorts them) and no name may appear twice;
// otherwise the method panics. The order of a fixed structure's members is a
// property of the calling code, so a mistake fails the first test that runs
// it instead of producing bytes that hash differently from Canonicalize's.
//
// Nested objects suspend their parent until [Object.EndObject]:
//
//	o := canonjson.NewObject(buf[:0])
//	o.String("action", e.Action)
//	d := o.BeginObject("decision")
//	d.String("result", e.Result)
//	o.EndObject(&d)
//	o.Int("seq", e.Seq)
//	buf = o.End()
//
// The zero Object is not usable; start with [NewObject].
type Object struct {
	buf   []byte
	last  string // name of the previous member
	n     int    // members written
	state objState
}

type objState uint8

const (
	objUnstarted objState = iota
	objOpen
	objSuspended // a nested object is open
	objEnded
)

// NewObject starts an object at the end of dst.
func NewObject(dst []byte) Object {
	return Object{buf: append(dst, '{'), state: objOpen}
}

// member writes the separator and the name of the next member.
func (o *Object) member(key string) {
	if o.state != objOpen {
		o.misuse()
	}
	if o.n > 0 {
		if compareKeys(o.last, key) >= 0 {
			panicOrder(o.last, key)
		}
		o.buf = append(o.buf, ',')
	}
	o.n++
	o.last = key
	o.buf = AppendString(o.buf, key)
	o.buf = append(o.buf, ':')
}

func (o *Object) misuse() {
	switch o.state {
	case objUnstarted:
		panic("canonjson: Object used without NewObject")
	case objSuspended:
		panic("canonjson: Object used while a nested object is open")
	}
	panic("canonjson: Object used after End")
}

func panicOrder(prev, key string) {
	if prev == key {
		panic(fmt.Sprintf("canonjson: duplicate member %q", key))
	}
	panic(fmt.Sprintf("canonjson: member %q added after %q; members must be added in RFC 8785 order", key, prev))
}

// String adds a string member.
func (o *Object) String(key, v string) {
	o.member(key)
	o.buf = AppendString(o.buf, v)
}

// Int adds a number member; see [AppendInt] for magnitudes beyond 2^53.
func (o *Object) Int(key string, v int64) {
	o.member(key)
	o.buf = AppendInt(o.buf, v)
}

// Bool adds a true or false member.
func (o *Object) Bool(key string, v bool) {
	o.member(key)
	if v {
		o.buf = append(o.buf, "true"...)
	} else {
		o.buf = append(o.buf, "false"...)
	}
}

// Null adds a null member.
func (o *Object) Null(key string) {
	o.member(key)
	o.buf = append(o.buf, "null"...)
}

// Strings adds an array-of-strings member, in the order given.
func (o *Object) Strings(key string, vs []string) {
	o.member(key)
	o.buf = append(o.buf, '[')
	for i, v := range vs {
		if i > 0 {
			o.buf = append(o.buf, ',')
		}
		o.buf = AppendString(o.buf, v)
	}
	o.buf = append(o.buf, ']')
}

// Raw adds a member whose value is already canonical JSON (the output of
// Canonicalize or of another Object, say). The value is not checked.
func (o *Object) Raw(key string, canonical []byte) {
	o.member(key)
	o.buf = append(o.buf, canonical...)
}

// BeginObject adds a member whose value is an object and returns the builder
// for it. o is suspended until the nested object is passed to EndObject.
func (o *Object) BeginObject(key string) Object {
	o.member(key)
	child := Object{buf: append(o.buf, '{'), state: objOpen}
	o.buf = nil
	o.state = objSuspended
	return child
}

// EndObject closes child, which BeginObject on o returned, and resumes o.
func (o *Object) EndObject(child *Object) {
	if o.state != objSuspended {
		panic("canonjson: EndObject without a matching BeginObject")
	}
	o.buf = child.End()
	o.state = objOpen
}

// End closes the object and returns the extended slice. The Object cannot be
// used afterwards.
func (o *Object) End() []byte {
	if o.state != objOpen {
		o.misuse()
	}
	buf := append(o.buf, '}')
	*o = Object{state: objEnded}
	return buf
}
