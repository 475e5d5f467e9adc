package store

import "time"

// Micros converts a time to the stored form: Unix microseconds, UTC.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// Time converts a stored Unix-microsecond value back to UTC.
func Time(us int64) time.Time { return time.UnixMicro(us).UTC() }

// NullTime converts a nullable stored value.
func NullTime(us *int64) *time.Time {
	if us == nil {
		return nil
	}
	t := Time(*us)
	return &t
}

// NullMicros converts an optional time to a nullable stored value.
func NullMicros(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	us := t.UnixMicro()
	return &us
}
