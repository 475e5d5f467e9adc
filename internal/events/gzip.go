package events

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/problem"
)

// gunzip accepts a gzip request body (§2.3 C1): it inflates the body,
// bounded by NodeBodyLimit (413 beyond), before the operation reads it. A
// body that is not valid gzip is 400.
func gunzip(ctx huma.Context, next func(huma.Context)) {
	enc := strings.TrimSpace(ctx.Header("Content-Encoding"))
	if enc == "" || strings.EqualFold(enc, "identity") {
		next(ctx)
		return
	}
	if !strings.EqualFold(enc, "gzip") {
		writeNodeProblem(ctx, problem.New(http.StatusUnsupportedMediaType, "unsupported_content_encoding",
			"Request bodies may be gzip or identity."))
		return
	}
	r, _ := humago.Unwrap(ctx)
	data, p := inflateBody(r.Body, NodeBodyLimit)
	if p != nil {
		writeNodeProblem(ctx, p)
		return
	}
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(data))
	r.ContentLength = int64(len(data))
	r.Header.Set("Content-Length", strconv.Itoa(len(data)))
	r.Header.Del("Content-Encoding")
	next(ctx)
}

var errTooLarge = errors.New("events: body too large")

// inflateBody is inflate with its failures as the problems a node gets:
// 413 request_body_too_large beyond limit, 400 when not gzip.
func inflateBody(r io.Reader, limit int64) ([]byte, *problem.Problem) {
	data, err := inflate(r, limit)
	switch {
	case errors.Is(err, errTooLarge):
		return nil, problem.Newf(http.StatusRequestEntityTooLarge, "request_body_too_large",
			"The decompressed body exceeds %d bytes.", limit)
	case err != nil:
		return nil, problem.BadRequest(nodeproto.CodeInvalidRequest, "The body is not valid gzip.")
	}
	return data, nil
}

// inflate decompresses all gzip members of r, refusing more than limit
// bytes of output.
func inflate(r io.Reader, limit int64) ([]byte, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	data, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, errTooLarge
	}
	return data, nil
}

func writeNodeProblem(ctx huma.Context, p *problem.Problem) {
	for k, vs := range p.GetHeaders() {
		for _, v := range vs {
			ctx.AppendHeader(k, v)
		}
	}
	ctx.SetHeader("Content-Type", "application/problem+json")
	ctx.SetStatus(p.Status)
	json.NewEncoder(ctx.BodyWriter()).Encode(p)
}
