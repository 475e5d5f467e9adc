package page

import (
	"net/url"
	"strconv"
)

// ArrayParams are the pagination parameters of the contract's bare-array
// lists (GET /v1/auth/tokens, GET /v1/admin/idp): the body is a JSON array,
// so the continuation travels in headers (ArrayHeaders). The default page
// is the ceiling, so a client that ignores the headers still sees up to
// MaxLimit items.
type ArrayParams struct {
	Cursor string `query:"cursor" maxLength:"2048" doc:"Opaque cursor from the previous page's X-Next-Cursor header (or its Link rel=next)."`
	Limit  int64  `query:"limit" default:"200" doc:"Page size; out-of-range values are clamped to 1..200 (default 200)."`
}

// Params returns p as the Params Codec.Start takes.
func (p ArrayParams) Params() Params { return Params{Cursor: p.Cursor, Limit: p.Limit} }

// ArrayHeaders say where a bare-array list continues; both are absent on
// the last page.
type ArrayHeaders struct {
	Link       string `header:"Link" doc:"RFC 8288 link to the next page: <path?cursor=…&limit=…>; rel=\"next\". Absent on the last page."`
	NextCursor string `header:"X-Next-Cursor" doc:"Cursor of the next page (pass it as ?cursor=). Absent on the last page."`
}

// SetNext points h at the page after this one: path with the list's
// filters (q, without cursor and limit), cursor and the page size.
func (h *ArrayHeaders) SetNext(path string, q url.Values, cursor string, limit int) {
	next := url.Values{}
	for k, v := range q {
		next[k] = v
	}
	next.Set("cursor", cursor)
	next.Set("limit", strconv.Itoa(limit))
	h.NextCursor = cursor
	h.Link = "<" + path + "?" + next.Encode() + `>; rel="next"`
}
