package meshkeys

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/problem"
)

// MaxRotateBody is the ceiling of a POST /v1/keys/rotate body, on the wire
// and after gzip (api.md §2.10: 4 KiB).
const MaxRotateBody = 4 << 10

// Problem codes of the node's completion (the contract's codes; api.md §2.5).
const (
	CodePublicKeyInvalid   = "keys_rotate_public_key_invalid"
	CodePublicKeyUnchanged = "keys_rotate_public_key_unchanged"
	CodeNoPendingRotation  = "keys_rotate_no_pending_rotation"
	codeBodyTooLarge       = "request_body_too_large"
)

// DecodeRotateBody decodes and checks the union body of POST /v1/keys/rotate:
// the agent's {node_id, new_public_key} and the contract's {new_public_key}
// (node-protocol.md §5.2 endpoint 9). Unknown members are ignored (J4). A
// body over MaxRotateBody is 413; one that is not a JSON object of strings
// is 400 invalid_request; a new_public_key that is not a WireGuard Key32
// (standard base64 of 32 bytes, not all zero) is 400
// keys_rotate_public_key_invalid: node-protocol.md §5.2 gives an invalid key
// 400, the contract names its code.
func DecodeRotateBody(raw []byte) (nodeproto.KeyRotateRequest, error) {
	var req nodeproto.KeyRotateRequest
	if len(raw) > MaxRotateBody {
		return req, problem.New(http.StatusRequestEntityTooLarge, codeBodyTooLarge, "The body is over 4 KiB.")
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return req, problem.BadRequest(nodeproto.CodeInvalidRequest, "The body must be a JSON object.")
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		return nodeproto.KeyRotateRequest{}, problem.BadRequest(nodeproto.CodeInvalidRequest,
			"The body must be a JSON object with string members node_id and new_public_key.")
	}
	if !nodeproto.ValidWireGuardKey(req.NewPublicKey) {
		return req, problem.BadRequest(CodePublicKeyInvalid,
			"new_public_key must be a WireGuard key: standard base64 of 32 bytes, not all zero.")
	}
	return req, nil
}

// readBody returns the request body, inflated when gzip (§2.3), bounded to
// MaxRotateBody either way.
func readBody(encoding string, raw []byte) ([]byte, error) {
	enc := strings.TrimSpace(encoding)
	if enc == "" || strings.EqualFold(enc, "identity") {
		return raw, nil
	}
	if !strings.EqualFold(enc, "gzip") {
		return nil, problem.New(http.StatusUnsupportedMediaType, "unsupported_content_encoding",
			"Request bodies may be gzip or identity.")
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, problem.BadRequest(nodeproto.CodeInvalidRequest, "The body is not gzip.")
	}
	data, err := io.ReadAll(io.LimitReader(zr, MaxRotateBody+1))
	if err != nil {
		return nil, problem.BadRequest(nodeproto.CodeInvalidRequest, "The body is not gzip.")
	}
	if len(data) > MaxRotateBody {
		return nil, problem.New(http.StatusRequestEntityTooLarge, codeBodyTooLarge, "The inflated body is over 4 KiB.")
	}
	return data, nil
}
