package api_test

import (
	"encoding/json"
	"fmt"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apptest"
)

// spineOperations are the operations the spine must serve (api.md §4).
var spineOperations = []string{
	"GET /v1/health", "GET /v1/version", "GET /v1/openapi.json",
	"GET /v1/auth/whoami", "GET /v1/auth/tokens", "POST /v1/auth/tokens",
	"DELETE /v1/auth/tokens/{id}", "POST /v1/auth/tokens/{id}/rotate",
	"GET /v1/domains", "POST /v1/domains", "GET /v1/domains/{id}", "PATCH /v1/domains/{id}", "DELETE /v1/domains/{id}",
	"GET /v1/projects", "POST /v1/projects", "GET /v1/projects/{id}", "PATCH /v1/projects/{id}", "DELETE /v1/projects/{id}",
	"GET /v1/projects/{project_id}/resources", "POST /v1/projects/{project_id}/resources",
	"GET /v1/resources/{id}", "DELETE /v1/resources/{id}",
	"GET /v1/domains/{domainId}/audit/entries", "GET /v1/domains/{domainId}/audit/entries/{seq}",
	"POST /v1/domains/{domainId}/audit/verify", "GET /v1/platform/audit/entries",
	"GET /v1/label-definitions", "POST /v1/label-definitions", "GET /v1/label-definitions/{id}",
	"POST /v1/labels/selectors/preview", "GET /v1/objects/{kind}/{id}/labels",
	"PUT /v1/objects/{kind}/{id}/labels", "DELETE /v1/objects/{kind}/{id}/labels",
}

type document struct {
	OpenAPI string `json:"openapi"`
	Info    struct {
		Title, Version string
	} `json:"info"`
	Paths      map[string]map[string]operation `json:"paths"`
	Components struct {
		Schemas         map[string]json.RawMessage `json:"schemas"`
		SecuritySchemes map[string]json.RawMessage `json:"securitySchemes"`
	} `json:"components"`
}

type operation struct {
	OperationID string                     `json:"operationId"`
	Security    *[]map[string][]string     `json:"security"`
	Responses   map[string]json.RawMessage `json:"responses"`
}

// TestOpenAPIDocument checks that /v1/openapi.json is OpenAPI 3.1, that it is
// internally consistent (unique operation ids, every $ref resolves, every
// operation declares security with known schemes), that it lists every spine
// operation, and that every operation it lists is answered by the server.
func TestOpenAPIDocument(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	st, raw := e.DoAs(t, "", "GET", "/v1/openapi.json", nil, nil)
	if st != 200 {
		t.Fatalf("openapi.json: %d", st)
	}
	var doc document
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || doc.Info.Version != "v1" || doc.Info.Title == "" {
		t.Fatalf("header: %+v %+v", doc.OpenAPI, doc.Info)
	}
	validateAgainstSpec(t, raw)
	for _, ref := range regexp.MustCompile(`"\$ref":"#/components/schemas/([^"]+)"`).FindAllStringSubmatch(string(raw), -1) {
		if _, ok := doc.Components.Schemas[ref[1]]; !ok {
			t.Errorf("dangling $ref %s", ref[1])
		}
	}
	ids := map[string]bool{}
	listed := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			key := strings.ToUpper(method) + " " + path
			listed[key] = true
			if op.OperationID == "" || ids[op.OperationID] {
				t.Errorf("%s: missing or duplicate operationId %q", key, op.OperationID)
			}
			ids[op.OperationID] = true
			if op.Security == nil {
				t.Errorf("%s declares no security", key)
			} else {
				for _, req := range *op.Security {
					for scheme := range req {
						if _, ok := doc.Components.SecuritySchemes[scheme]; !ok {
							t.Errorf("%s: unknown scheme %s", key, scheme)
						}
					}
				}
			}
			if len(op.Responses) == 0 {
				t.Errorf("%s has no responses", key)
			}
			assertServed(t, e, method, path)
		}
	}
	for _, want := range spineOperations {
		if !listed[want] {
			t.Errorf("operation %s is missing from the document", want)
		}
	}
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// assertServed sends the operation with placeholder parameters and fails on
// the mux's route_not_found (any other answer means a handler is there).
func assertServed(t *testing.T, e *apptest.Env, method, path string) {
	t.Helper()
	concrete := pathParam.ReplaceAllString(path, "1")
	var body any
	if method != "get" && method != "delete" {
		body = "{}"
	}
	st, raw := e.Do(t, strings.ToUpper(method), concrete, body, nil)
	if st == http.StatusNotFound && strings.Contains(string(raw), "route_not_found") ||
		st == http.StatusMethodNotAllowed {
		t.Errorf("%s %s is in the document but not served: %d %s", method, path, st, raw)
	}
}

func TestUnknownRoutesAndMethodsAreProblems(t *testing.T) {
	e := apptest.Start(t, apptest.SQLite)
	st, raw := e.Do(t, "GET", "/v1/nope", nil, nil)
	if st != 404 || !strings.Contains(string(raw), `"code":"route_not_found"`) {
		t.Fatalf("unknown path: %d %s", st, raw)
	}
	req, _ := http.NewRequest("PUT", e.URL+"/v1/domains", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Content-Type") != "application/problem+json" ||
		!strings.Contains(resp.Header.Get("Allow"), "GET") {
		t.Fatalf("wrong method: %d %v", resp.StatusCode, resp.Header)
	}
}

// validateAgainstSpec fails t when the document breaks the OpenAPI 3.1
// specification's own JSON Schema.
func validateAgainstSpec(t *testing.T, raw []byte) {
	t.Helper()
	for _, p := range specProblems(t, raw) {
		t.Error(p)
	}
}

// specProblems validates a document with libopenapi-validator and returns
// what is wrong with it (at most 20 findings).
func specProblems(t *testing.T, raw []byte) []string {
	t.Helper()
	parsed, err := libopenapi.NewDocument(raw)
	if err != nil {
		return []string{"libopenapi cannot read the document: " + err.Error()}
	}
	v, errs := validator.NewValidator(parsed)
	if len(errs) > 0 {
		return []string{fmt.Sprint("validator: ", errs)}
	}
	var out []string
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			out = append(out, "invalid OpenAPI 3.1: "+e.Message+": "+e.Reason)
			for _, se := range e.SchemaValidationErrors {
				out = append(out, "  at "+se.FieldPath+": "+se.Reason)
			}
		}
	}
	return out[:min(len(out), 20)]
}

// TestSpecValidatorRejectsBrokenDocuments keeps the validation above honest:
// a document without info, or with a parameter that has no location, fails.
func TestSpecValidatorRejectsBrokenDocuments(t *testing.T) {
	for name, doc := range map[string]string{
		"no info":              `{"openapi":"3.1.0","paths":{}}`,
		"parameter without in": `{"openapi":"3.1.0","info":{"title":"x","version":"1"},"paths":{"/a":{"get":{"operationId":"a","parameters":[{"name":"x"}]}}}}`,
	} {
		if len(specProblems(t, []byte(doc))) == 0 {
			t.Errorf("%s: accepted", name)
		}
	}
}
