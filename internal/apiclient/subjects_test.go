package apiclient

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/plexsphere/plexsphere/internal/apiclient/apiclienttest"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// TestSubjectsAndDefinitionRoutes checks the requests of lookup-subjects, the tuple
// patch and the label Definition changes, as TestRoutes does.
func TestSubjectsAndDefinitionRoutes(t *testing.T) {
	cases := []routeCase{
		{name: "lookup subjects", pattern: "POST /v1/authz/lookup-subjects",
			reply: apiv1.AuthzSubjects{Items: []string{"user:u1"}, CorrelationID: "c1"},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.LookupSubjects(ctx, apiv1.AuthzLookupSubjects{SubjectType: "user", Relation: "read", Resource: "project:p1"})
			},
			want: "POST /v1/authz/lookup-subjects", body: `{"subject_type":"user","relation":"read","resource":"project:p1"}`,
			check: func(t *testing.T, got any) {
				if s := got.(*apiv1.AuthzSubjects); !slices.Equal(s.Items, []string{"user:u1"}) || s.CorrelationID != "c1" {
					t.Errorf("subjects = %+v", s)
				}
			}},
		{name: "lookup subjects, none", pattern: "POST /v1/authz/lookup-subjects", reply: map[string]any{"correlation_id": "c"},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.LookupSubjects(ctx, apiv1.AuthzLookupSubjects{SubjectType: "user", Relation: "read", Resource: "platform"})
			},
			want: "POST /v1/authz/lookup-subjects", body: `{"subject_type":"user","relation":"read","resource":"platform"}`,
			check: func(t *testing.T, got any) {
				if s := got.(*apiv1.AuthzSubjects); s.Items == nil {
					t.Error("items is nil, want empty")
				}
			}},
		{name: "tuple patch", pattern: "PATCH /v1/authz/relation-tuples/{id}", reply: apiv1.RelationTuple{ID: "t1", Relation: "admin"},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.PatchRelationTuple(ctx, "t1", apiv1.PatchRelationTuple{Subject: "user:u1", Relation: "admin", Resource: "project:p1"})
			},
			want: "PATCH /v1/authz/relation-tuples/t1", body: `{"subject":"user:u1","relation":"admin","resource":"project:p1"}`},
		{name: "label definition update", pattern: "PATCH /v1/label-definitions/{id}", reply: apiv1.LabelDefinition{ID: "l1"},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.UpdateLabelDefinition(ctx, "l1", apiv1.UpdateLabelDefinition{Description: ptr("tier"), OnDelete: ptr("orphan")})
			},
			want: "PATCH /v1/label-definitions/l1", body: `{"description":"tier","on_delete":"orphan"}`},
		{name: "label definition delete", pattern: "DELETE /v1/label-definitions/{id}", status: http.StatusNoContent,
			call: func(ctx context.Context, c *Client) (any, error) { return nil, c.DeleteLabelDefinition(ctx, "l1") },
			want: "DELETE /v1/label-definitions/l1"},
	}
	for _, tc := range cases {
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
	c, err := New(Options{BaseURL: "http://127.0.0.1:1", Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PatchRelationTuple(t.Context(), "", apiv1.PatchRelationTuple{}); err == nil {
		t.Error("a patch without an id was sent")
	}
}
