package events

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"mime"
	"strconv"
	"strings"

	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/problem"
)

// secretOutput is a node secret in one of its two forms: the JSON of
// node-protocol §11.1 (deployed agents send Accept: application/json), or
// the binary form of api.md §3.8 with the version and key id in headers.
type secretOutput struct {
	ContentType  string `header:"Content-Type"`
	CacheControl string `header:"Cache-Control"`
	Version      string `header:"X-Plexsphere-Secret-Version"`
	KID          string `header:"X-Plexsphere-Secret-KID"`
	Seal         string `header:"X-Plexsphere-Secret-Seal"`
	Body         []byte
}

// prefersBinary reports whether an Accept header ranks
// application/octet-stream above JSON.
func prefersBinary(accept string) bool {
	best, bestQ := "", -1.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if (mt == "application/octet-stream" || mt == "application/json") && q > bestQ {
			best, bestQ = mt, q
		}
	}
	return best == "application/octet-stream"
}

// secretAnswer renders resp: level 1 as nonce ‖ ciphertext ‖ tag under
// the NSK (KID "nsk"), level 2 as HPKE enc ‖ ciphertext (KID the sealing
// key's), or the JSON SecretResponse.
func secretAnswer(resp nodeproto.SecretResponse, binary bool) (*secretOutput, error) {
	out := &secretOutput{CacheControl: "no-store", Version: strconv.FormatInt(resp.Version, 10)}
	if !binary {
		body, err := json.Marshal(resp)
		if err != nil {
			return nil, problem.Internal(err)
		}
		out.ContentType, out.Body = "application/json", body
		out.Version = ""
		return out, nil
	}
	out.ContentType = "application/octet-stream"
	if resp.Sealed != "" {
		raw, err := base64.StdEncoding.DecodeString(resp.Sealed)
		if err != nil {
			return nil, problem.Internal(err)
		}
		out.Body, out.KID, out.Seal = raw, resp.KID, nodeproto.SealSuite
		return out, nil
	}
	nonce, err1 := base64.StdEncoding.DecodeString(resp.Nonce)
	ct, err2 := base64.StdEncoding.DecodeString(resp.Ciphertext)
	if err := errors.Join(err1, err2); err != nil {
		return nil, problem.Internal(err)
	}
	out.Body, out.KID = append(nonce, ct...), "nsk"
	return out, nil
}
