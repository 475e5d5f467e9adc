package apiclient

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/plexsphere/plexsphere/internal/apiclient/apiclienttest"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

const testToken = "psk_dev_0123456789abcdef"

func newTestClient(t *testing.T, srv *apiclienttest.Server) *Client {
	t.Helper()
	c, err := New(Options{BaseURL: srv.URL, Token: testToken, UserAgent: "apiclient-test/1"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ptr[T any](v T) *T { return &v }

// routeCase is one call of a typed method and the request it must send.
type routeCase struct {
	name    string
	pattern string // fake route; answered with status and reply
	status  int
	reply   any
	call    func(ctx context.Context, c *Client) (any, error)
	want    string // Request.Pattern()
	body    string // expected JSON body, "" for none
	public  bool   // no Authorization expected
	check   func(t *testing.T, got any)
}

func routeCases() []routeCase {
	var all []routeCase
	for _, f := range []func() []routeCase{metaRoutes, domainRoutes, projectRoutes, labelRoutes, auditRoutes} {
		all = append(all, f()...)
	}
	return all
}

func metaRoutes() []routeCase {
	return []routeCase{
		{name: "health", pattern: "GET /v1/health", reply: apiv1.Health{Status: "ok"}, public: true,
			call: func(ctx context.Context, c *Client) (any, error) { return c.Health(ctx) },
			want: "GET /v1/health",
			check: func(t *testing.T, got any) {
				if got.(*apiv1.Health).Status != "ok" {
					t.Errorf("status = %q", got.(*apiv1.Health).Status)
				}
			}},
		{name: "version", pattern: "GET /v1/version", reply: apiv1.Version{Version: "v1.2.3"}, public: true,
			call: func(ctx context.Context, c *Client) (any, error) { return c.Version(ctx) },
			want: "GET /v1/version",
			check: func(t *testing.T, got any) {
				if got.(*apiv1.Version).Version != "v1.2.3" {
					t.Errorf("version = %+v", got)
				}
			}},
		{name: "openapi", pattern: "GET /v1/openapi.json", reply: map[string]string{"openapi": "3.1.0"}, public: true,
			call: func(ctx context.Context, c *Client) (any, error) { return c.OpenAPI(ctx) },
			want: "GET /v1/openapi.json",
			check: func(t *testing.T, got any) {
				if string(got.(json.RawMessage)) != `{"openapi":"3.1.0"}` {
					t.Errorf("document = %s", got)
				}
			}},
		{name: "whoami", pattern: "GET /v1/auth/whoami", reply: apiv1.Whoami{Subject: "user:1"},
			call: func(ctx context.Context, c *Client) (any, error) { return c.Whoami(ctx) },
			want: "GET /v1/auth/whoami"},
		{name: "tokens list", pattern: "GET /v1/auth/tokens", reply: apiv1.List[apiv1.APIToken]{},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListTokens(ctx, ListOptions{Limit: 5, Cursor: "abc"})
			},
			want: "GET /v1/auth/tokens?cursor=abc&limit=5"},
		{name: "tokens issue", pattern: "POST /v1/auth/tokens", status: 201, reply: apiv1.IssuedToken{ID: "t1", Plaintext: "psk_x"},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.IssueToken(ctx, apiv1.IssueToken{EnvPrefix: "dev", TTLSeconds: 3600})
			},
			want: "POST /v1/auth/tokens", body: `{"env_prefix":"dev","ttl_seconds":3600}`,
			check: func(t *testing.T, got any) {
				if got.(*apiv1.IssuedToken).Plaintext != "psk_x" {
					t.Errorf("plaintext not decoded: %+v", got)
				}
			}},
		{name: "tokens revoke", pattern: "DELETE /v1/auth/tokens/{id}", status: 204,
			call: func(ctx context.Context, c *Client) (any, error) { return nil, c.RevokeToken(ctx, "t1") },
			want: "DELETE /v1/auth/tokens/t1"},
		{name: "tokens rotate", pattern: "POST /v1/auth/tokens/{id}/rotate", reply: apiv1.IssuedToken{ID: "t1", RotationDeadline: ptr(time.Unix(0, 0))},
			call: func(ctx context.Context, c *Client) (any, error) { return c.RotateToken(ctx, "t1") },
			want: "POST /v1/auth/tokens/t1/rotate"},
	}
}

func domainRoutes() []routeCase {
	dom := apiv1.Domain{ID: "d1", Slug: "acme", MeshCIDR: "100.64.0.0/16"}
	return []routeCase{
		{name: "domains list", pattern: "GET /v1/domains", reply: apiv1.List[apiv1.Domain]{Items: []apiv1.Domain{dom}},
			call: func(ctx context.Context, c *Client) (any, error) { return c.ListDomains(ctx, ListOptions{}) },
			want: "GET /v1/domains"},
		{name: "domains get", pattern: "GET /v1/domains/{id}", reply: dom,
			call: func(ctx context.Context, c *Client) (any, error) { return c.GetDomain(ctx, "d1") },
			want: "GET /v1/domains/d1",
			check: func(t *testing.T, got any) {
				if *got.(*apiv1.Domain) != dom {
					t.Errorf("domain = %+v", got)
				}
			}},
		{name: "domains create", pattern: "POST /v1/domains", status: 201, reply: dom,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CreateDomain(ctx, apiv1.CreateDomain{Name: "Acme", Slug: "acme", MeshCIDR: "100.64.0.0/16"})
			},
			want: "POST /v1/domains", body: `{"name":"Acme","slug":"acme","mesh_cidr":"100.64.0.0/16"}`},
		{name: "domains update", pattern: "PATCH /v1/domains/{id}", reply: dom,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.UpdateDomain(ctx, "d1", apiv1.PatchDomain{Region: ptr("eu-1")})
			},
			want: "PATCH /v1/domains/d1", body: `{"region":"eu-1"}`},
		{name: "domains delete", pattern: "DELETE /v1/domains/{id}", status: 204,
			call: func(ctx context.Context, c *Client) (any, error) { return nil, c.DeleteDomain(ctx, "d1") },
			want: "DELETE /v1/domains/d1"},
	}
}

func projectRoutes() []routeCase {
	return []routeCase{
		{name: "projects list", pattern: "GET /v1/projects", reply: apiv1.List[apiv1.Project]{},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListProjects(ctx, "d1", ListOptions{Limit: 10})
			},
			want: "GET /v1/projects?domain_id=d1&limit=10"},
		{name: "projects get", pattern: "GET /v1/projects/{id}", reply: apiv1.Project{ID: "p1"},
			call: func(ctx context.Context, c *Client) (any, error) { return c.GetProject(ctx, "p1") },
			want: "GET /v1/projects/p1"},
		{name: "projects create", pattern: "POST /v1/projects", status: 201, reply: apiv1.Project{ID: "p1"},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CreateProject(ctx, apiv1.CreateProject{DomainID: "d1", Name: "Web", Slug: "web"})
			},
			want: "POST /v1/projects", body: `{"domain_id":"d1","name":"Web","slug":"web"}`},
		{name: "projects update", pattern: "PATCH /v1/projects/{id}", reply: apiv1.Project{ID: "p1"},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.UpdateProject(ctx, "p1", apiv1.PatchProject{ReleaseSubRange: ptr(true)})
			},
			want: "PATCH /v1/projects/p1", body: `{"release_sub_range":true}`},
		{name: "projects delete", pattern: "DELETE /v1/projects/{id}", status: 204,
			call: func(ctx context.Context, c *Client) (any, error) { return nil, c.DeleteProject(ctx, "p1") },
			want: "DELETE /v1/projects/p1"},
		{name: "resources list", pattern: "GET /v1/projects/{pid}/resources", reply: apiv1.List[apiv1.Resource]{},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListResources(ctx, "p1", ListOptions{Cursor: "x"})
			},
			want: "GET /v1/projects/p1/resources?cursor=x"},
		{name: "resources create", pattern: "POST /v1/projects/{pid}/resources", status: 201, reply: apiv1.Resource{ID: "r1"},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CreateResource(ctx, "p1", apiv1.CreateResource{Origin: "adopted", Kind: "vm"})
			},
			want: "POST /v1/projects/p1/resources", body: `{"origin":"adopted","kind":"vm"}`},
		{name: "resources get", pattern: "GET /v1/resources/{id}", reply: apiv1.Resource{ID: "r1"},
			call: func(ctx context.Context, c *Client) (any, error) { return c.GetResource(ctx, "r1") },
			want: "GET /v1/resources/r1"},
		{name: "resources delete", pattern: "DELETE /v1/resources/{id}", status: 202,
			call: func(ctx context.Context, c *Client) (any, error) { return nil, c.DeleteResource(ctx, "r1") },
			want: "DELETE /v1/resources/r1"},
	}
}

func labelRoutes() []routeCase {
	return []routeCase{
		{name: "label definitions list", pattern: "GET /v1/label-definitions", reply: apiv1.List[apiv1.LabelDefinition]{},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListLabelDefinitions(ctx, "domain:d1", ListOptions{})
			},
			want: "GET /v1/label-definitions?scope=domain%3Ad1"},
		{name: "label definitions get", pattern: "GET /v1/label-definitions/{id}", reply: apiv1.LabelDefinition{ID: "l1"},
			call: func(ctx context.Context, c *Client) (any, error) { return c.GetLabelDefinition(ctx, "l1") },
			want: "GET /v1/label-definitions/l1"},
		{name: "label definitions create", pattern: "POST /v1/label-definitions", status: 201, reply: apiv1.LabelDefinition{ID: "l1"},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CreateLabelDefinition(ctx, apiv1.CreateLabelDefinition{Scope: "platform", LocalKey: "env",
					ValueSchema: apiv1.ValueSchema{Kind: "enum", Values: []string{"dev", "prod"}}})
			},
			want: "POST /v1/label-definitions",
			body: `{"scope":"platform","local_key":"env","value_schema":{"kind":"enum","values":["dev","prod"]}}`},
		{name: "selector preview", pattern: "POST /v1/labels/selectors/preview", reply: apiv1.SelectorPreview{},
			call: func(ctx context.Context, c *Client) (any, error) { return c.PreviewSelector(ctx, "env=prod") },
			want: "POST /v1/labels/selectors/preview", body: `{"expression":"env=prod"}`},
		{name: "object labels", pattern: "GET /v1/objects/{kind}/{id}/labels",
			reply: apiv1.List[apiv1.LabelAssignment]{Items: []apiv1.LabelAssignment{{QualifiedKey: "platform/env"}}},
			call:  func(ctx context.Context, c *Client) (any, error) { return c.ObjectLabels(ctx, "resource", "r1") },
			want:  "GET /v1/objects/resource/r1/labels",
			check: func(t *testing.T, got any) {
				if l := got.([]apiv1.LabelAssignment); len(l) != 1 || l[0].QualifiedKey != "platform/env" {
					t.Errorf("assignments = %+v", l)
				}
			}},
		{name: "assign label", pattern: "PUT /v1/objects/{kind}/{id}/labels", reply: apiv1.LabelAssignment{Value: "prod"},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.AssignLabel(ctx, "resource", "r1", apiv1.AssignLabel{DefinitionID: "l1", Value: "prod"})
			},
			want: "PUT /v1/objects/resource/r1/labels", body: `{"definition_id":"l1","value":"prod"}`},
		{name: "unassign label", pattern: "DELETE /v1/objects/{kind}/{id}/labels", status: 204,
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.UnassignLabel(ctx, "resource", "r1", "platform/env")
			},
			want: "DELETE /v1/objects/resource/r1/labels?qualified_key=platform%2Fenv"},
	}
}

func auditRoutes() []routeCase {
	return []routeCase{
		{name: "audit list domain", pattern: "GET /v1/domains/{id}/audit/entries", reply: apiv1.AuditList{},
			call: func(ctx context.Context, c *Client) (any, error) {
				f := AuditFilter{Action: "domain.create", Outcome: "denied", CorrelationID: "c-1",
					From: time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))}
				return c.ListAuditEntries(ctx, DomainChain("d1"), f, ListOptions{Limit: 2})
			},
			want: "GET /v1/domains/d1/audit/entries?action=domain.create&correlation_id=c-1&from=2025-01-02T02%3A04%3A05Z&limit=2&outcome=denied"},
		{name: "audit get platform", pattern: "GET /v1/platform/audit/entries/{seq}", reply: apiv1.AuditEntryWithProof{},
			call: func(ctx context.Context, c *Client) (any, error) { return c.GetAuditEntry(ctx, PlatformChain(), 42) },
			want: "GET /v1/platform/audit/entries/42"},
		{name: "audit verify domain", pattern: "POST /v1/domains/{id}/audit/verify", reply: apiv1.AuditVerifyResult{OK: true},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.VerifyAudit(ctx, DomainChain("d1"), apiv1.AuditVerifyRequest{FromSeq: 3, ToSeq: 9})
			},
			want: "POST /v1/domains/d1/audit/verify", body: `{"from_seq":3,"to_seq":9}`},
		{name: "audit verify platform", pattern: "POST /v1/platform/audit/verify", reply: apiv1.AuditVerifyResult{OK: true},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.VerifyAudit(ctx, PlatformChain(), apiv1.AuditVerifyRequest{})
			},
			want: "POST /v1/platform/audit/verify", body: `{}`},
	}
}

// TestRoutes checks the request every typed method sends: method, path,
// query, body, and headers.
func TestRoutes(t *testing.T) {
	for _, tc := range routeCases() {
		t.Run(tc.name, func(t *testing.T) {
			srv := apiclienttest.NewServer(t)
			status := tc.status
			if status == 0 {
				status = http.StatusOK
			}
			if tc.reply == nil {
				srv.Status(tc.pattern, status)
			} else {
				srv.JSON(tc.pattern, status, tc.reply)
			}
			got, err := tc.call(t.Context(), newTestClient(t, srv))
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			req := srv.Last()
			if req.Pattern() != tc.want {
				t.Errorf("request = %q, want %q", req.Pattern(), tc.want)
			}
			assertJSONBody(t, req.Body, tc.body)
			assertHeaders(t, req, tc.public, tc.body != "")
			if tc.check != nil {
				tc.check(t, got)
			}
		})
	}
}

func assertJSONBody(t *testing.T, got []byte, want string) {
	t.Helper()
	if want == "" {
		if len(got) != 0 {
			t.Errorf("body = %s, want none", got)
		}
		return
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("body %q: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %q: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("body = %s, want %s", got, want)
	}
}

func assertHeaders(t *testing.T, req apiclienttest.Request, public, hasBody bool) {
	t.Helper()
	wantAuth := "Bearer " + testToken
	if public {
		wantAuth = ""
	}
	if got := req.Header.Get("Authorization"); got != wantAuth {
		t.Errorf("Authorization = %q, want %q", got, wantAuth)
	}
	if got := req.Header.Get("User-Agent"); got != "apiclient-test/1" {
		t.Errorf("User-Agent = %q", got)
	}
	if got := req.Header.Get("Accept"); got != "application/json, application/problem+json" {
		t.Errorf("Accept = %q", got)
	}
	wantCT := ""
	if hasBody {
		wantCT = "application/json"
	}
	if got := req.Header.Get("Content-Type"); got != wantCT {
		t.Errorf("Content-Type = %q, want %q", got, wantCT)
	}
}
