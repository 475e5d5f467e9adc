package audit

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/page"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
)

// Authorizer is the check the audit API needs.
type Authorizer interface {
	Check(ctx context.Context, permission, object string) error
}

// API serves the audit chains.
type API struct {
	Log   *Log
	Authz Authorizer
	Pages *page.Codec
}

// The operations' inputs. huma binds only exported embedded structs, so
// these parts are exported; they are not meant for other packages.

// DomainPath is the Domain chain's path parameter.
type DomainPath struct {
	DomainID string `path:"domainId" doc:"Domain id (UUID)."`
}

// ListQuery holds the list filters and page parameters.
type ListQuery struct {
	page.Params
	Action        string    `query:"action" doc:"Only this action, e.g. domain.create."`
	Outcome       string    `query:"outcome" enum:"succeeded,denied,failed,"`
	CorrelationID string    `query:"correlation_id"`
	Subject       string    `query:"subject" doc:"Subject pseudonym."`
	Relation      string    `query:"relation"`
	ObjectType    string    `query:"object_type"`
	ObjectID      string    `query:"object_id"`
	Reason        string    `query:"reason" doc:"Only this reason: a contract value (granted, out_of_scope, insufficient_relation, caveat_violation, unknown) matches the reason shown; any other value matches reason_detail."`
	ReasonDetail  string    `query:"reason_detail" doc:"Only this stored reason, e.g. unauthenticated or rate_limited."`
	From          time.Time `query:"from" doc:"Only entries at or after this instant."`
	To            time.Time `query:"to" doc:"Only entries at or before this instant."`
}

// SeqPath is the entry path parameter.
type SeqPath struct {
	Seq int64 `path:"seq" minimum:"1"`
}

// VerifyBody is the verify request body; it is optional, as in the
// contract: no body, an empty one and {} all verify the whole chain.
type VerifyBody struct {
	Body *apiv1.AuditVerifyRequest `required:"false"`
}

// request returns the body, or the defaults when there is none.
func (v *VerifyBody) request() apiv1.AuditVerifyRequest {
	if v.Body == nil {
		return apiv1.AuditVerifyRequest{}
	}
	return *v.Body
}

// ExportQuery is the export start.
type ExportQuery struct {
	FromSeq int64 `query:"from_seq" default:"1" minimum:"1" doc:"First seq to export."`
}

// Inputs of the Domain operations carry the path's Domain id; the platform
// operations use the bare query and body types.
type (
	domainList struct {
		DomainPath
		ListQuery
	}
	domainGet struct {
		DomainPath
		SeqPath
	}
	domainVerify struct {
		DomainPath
		VerifyBody
	}
	domainExport struct {
		DomainPath
		ExportQuery
	}
)

type listOutput struct{ Body apiv1.AuditList }
type getOutput struct{ Body apiv1.AuditEntryWithProof }
type verifyOutput struct{ Body apiv1.AuditVerifyResult }

// Register adds the Domain and platform audit operations.
func (a *API) Register(api huma.API) {
	const dp, pp = "/v1/domains/{domainId}/audit", "/v1/platform/audit"
	list := func(prefix, id string) huma.Operation {
		return route.Op(http.MethodGet, prefix+"/entries", "list"+id+"AuditEntries", "audit.list",
			route.Operator, "List chain entries in seq order", "Audit")
	}
	get := func(prefix, id string) huma.Operation {
		return route.Op(http.MethodGet, prefix+"/entries/{seq}", "get"+id+"AuditEntry", "audit.read",
			route.Operator, "Read one entry with its hash proof", "Audit")
	}
	verify := func(prefix, id string) huma.Operation {
		return route.Op(http.MethodPost, prefix+"/verify", "verify"+id+"AuditChain", "audit.verify",
			route.Operator, "Recompute the chain or a segment; tampering is reported as data", "Audit")
	}
	export := func(prefix, id string) huma.Operation {
		op := route.Op(http.MethodGet, prefix+"/entries:export", "export"+id+"AuditEntries", "audit.export",
			route.Operator, "Stream entries as JSON Lines for SIEM ingestion, resumable from a seq", "Audit")
		op.Responses = map[string]*huma.Response{"200": {Description: "One AuditEntry per line.",
			Content: map[string]*huma.MediaType{"application/x-ndjson": {}}}}
		return op
	}
	cpExport := func(prefix, id string) huma.Operation {
		op := route.Op(http.MethodGet, prefix+"/checkpoints:export", "export"+id+"AuditCheckpoints", "audit.export",
			route.Operator, "Stream the chain's signed checkpoints as JSON Lines, for offline verification", "Audit")
		op.Description = "Keep this export off the host: `plexsphere audit verify --checkpoints FILE` then detects " +
			"a chain whose newest entries were deleted and whose head was rewound."
		op.Responses = map[string]*huma.Response{"200": {Description: "One AuditCheckpoint per line.",
			Content: map[string]*huma.MediaType{"application/x-ndjson": {}}}}
		return op
	}
	huma.Register(api, cpExport(dp, "Domain"), func(ctx context.Context, in *domainExport) (*huma.StreamResponse, error) {
		return a.exportCheckpoints(ctx, in.DomainID, in.FromSeq)
	})
	huma.Register(api, cpExport(pp, "Platform"), func(ctx context.Context, in *ExportQuery) (*huma.StreamResponse, error) {
		return a.exportCheckpoints(ctx, "", in.FromSeq)
	})
	huma.Register(api, list(dp, "Domain"), func(ctx context.Context, in *domainList) (*listOutput, error) {
		return a.list(ctx, in.DomainID, &in.ListQuery)
	})
	huma.Register(api, list(pp, "Platform"), func(ctx context.Context, in *ListQuery) (*listOutput, error) {
		return a.list(ctx, "", in)
	})
	huma.Register(api, get(dp, "Domain"), func(ctx context.Context, in *domainGet) (*getOutput, error) {
		return a.get(ctx, in.DomainID, in.Seq)
	})
	huma.Register(api, get(pp, "Platform"), func(ctx context.Context, in *SeqPath) (*getOutput, error) {
		return a.get(ctx, "", in.Seq)
	})
	huma.Register(api, verify(dp, "Domain"), func(ctx context.Context, in *domainVerify) (*verifyOutput, error) {
		return a.verify(ctx, in.DomainID, in.request())
	})
	huma.Register(api, verify(pp, "Platform"), func(ctx context.Context, in *VerifyBody) (*verifyOutput, error) {
		return a.verify(ctx, "", in.request())
	})
	huma.Register(api, export(dp, "Domain"), func(ctx context.Context, in *domainExport) (*huma.StreamResponse, error) {
		return a.export(ctx, in.DomainID, in.FromSeq)
	})
	huma.Register(api, export(pp, "Platform"), func(ctx context.Context, in *ExportQuery) (*huma.StreamResponse, error) {
		return a.export(ctx, "", in.FromSeq)
	})
	(&EraseAPI{Log: a.Log, Authz: a.Authz}).Register(api)
}

// chain resolves the path to a chain id and checks auditor on it.
func (a *API) chain(ctx context.Context, domainID string) (string, error) {
	if domainID == "" {
		return PlatformChain, a.Authz.Check(ctx, "auditor", "platform:platform")
	}
	u, err := uuid.Parse(domainID)
	if err != nil || u == uuid.Nil {
		return "", problem.BadRequest("invalid_domain_id", "The domain id must be a UUID.")
	}
	return u.String(), a.Authz.Check(ctx, "auditor", "domain:"+u.String())
}

func (a *API) list(ctx context.Context, domainID string, in *ListQuery) (*listOutput, error) {
	chain, err := a.chain(ctx, domainID)
	if err != nil {
		return nil, err
	}
	f := Filter{Action: in.Action, Outcome: in.Outcome, CorrelationID: in.CorrelationID, Subject: in.Subject,
		Relation: in.Relation, ObjectType: in.ObjectType, ObjectID: in.ObjectID, Reason: in.Reason,
		ReasonDetail: in.ReasonDetail, From: in.From, To: in.To}
	fb, _ := json.Marshal(f)
	scope := "audit.list/" + chain + "?" + string(fb)
	var after int64
	limit, err := a.Pages.Start(ctx, in.Params, scope, &after)
	if err != nil {
		return nil, err
	}
	entries, err := a.Log.List(ctx, chain, f, after, limit+1)
	if err != nil {
		return nil, problem.Internal(err)
	}
	out := &listOutput{Body: apiv1.AuditList{Items: []apiv1.AuditEntry{}}}
	if len(entries) > limit {
		entries = entries[:limit]
		if out.Body.NextCursor, err = a.Pages.Next(ctx, scope, entries[limit-1].Seq); err != nil {
			return nil, err
		}
	}
	for i := range entries {
		out.Body.Items = append(out.Body.Items, entries[i].API())
	}
	out.Body.Entries = out.Body.Items
	return out, nil
}

func (a *API) get(ctx context.Context, domainID string, seq int64) (*getOutput, error) {
	notFound := problem.NotFound("audit_entry_not_found", "No such audit entry.")
	chain, err := a.chain(ctx, domainID)
	var p *problem.Problem
	if errors.As(err, &p) && p.Status == http.StatusForbidden {
		return nil, notFound // deliberate: sequence numbers stay hidden (api.md §2.4)
	}
	if err != nil {
		return nil, err
	}
	e, err := a.Log.Get(ctx, chain, seq)
	if errors.Is(err, ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, problem.Internal(err)
	}
	api := e.API()
	return &getOutput{Body: apiv1.AuditEntryWithProof{Entry: api, Proof: apiv1.AuditProof{
		PrevHash: api.PrevHash, EntryHash: api.EntryHash, CanonicalBytes: e.Canonical(nil),
		IdentityIDRefSalt: e.IdentitySalt, ObjectIDSalt: e.ObjectSalt}}}, nil
}

func (a *API) verify(ctx context.Context, domainID string, body apiv1.AuditVerifyRequest) (*verifyOutput, error) {
	chain, err := a.chain(ctx, domainID)
	if err != nil {
		return nil, err
	}
	if body.ToSeq > 0 && body.FromSeq > body.ToSeq {
		return nil, problem.BadRequest("invalid_audit_segment", "from_seq is after to_seq.")
	}
	res, err := Verify(ctx, a.Log.db, chain, body.FromSeq, body.ToSeq)
	if errors.Is(err, ErrSegment) {
		return nil, problem.BadRequest("invalid_audit_segment", "from_seq is after the chain's newest entry.")
	}
	if err != nil {
		return nil, problem.Internal(err)
	}
	if res.Reason == ReasonChainNotFound {
		return a.noChain(ctx, chain, res)
	}
	if res.OK && body.ToSeq <= 0 {
		// The newest stored checkpoint must still name an entry of the
		// chain. Its key comes from this database, so this catches a
		// careless rewind only; offline verification against an exported
		// file is the real check.
		cps, err := latestCheckpoint(ctx, a.Log.db, chain)
		if err != nil {
			return nil, problem.Internal(err)
		}
		cr, err := CheckCheckpoints(ctx, a.Log.db, chain, cps, nil)
		if err != nil {
			return nil, problem.Internal(err)
		}
		if !cr.OK {
			cr.SegmentFrom, cr.SegmentTo, cr.EntriesLooked = res.SegmentFrom, res.SegmentTo, res.EntriesLooked
			res = cr
		}
	}
	return &verifyOutput{Body: res}, nil
}

// noChain answers a verification of a chain that does not exist. A Domain
// whose chain was never written (no entry and no checkpoint names it) has
// nothing to verify: ok over an empty segment, rather than a tampering
// report a client cannot tell from a real one. An id that is no Domain is
// 404. A chain whose head is gone while entries or checkpoints remain stays
// a failed verification.
func (a *API) noChain(ctx context.Context, chain string, res Result) (*verifyOutput, error) {
	var n int
	err := a.Log.db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM audit_entries WHERE chain_id = $1 LIMIT 1) e)
		+ (SELECT COUNT(*) FROM (SELECT 1 FROM audit_checkpoints WHERE chain_id = $1 LIMIT 1) c)`, chain).Scan(&n)
	if err != nil {
		return nil, problem.Internal(err)
	}
	if n > 0 || chain == PlatformChain {
		return &verifyOutput{Body: res}, nil
	}
	if a.Log.domains != nil {
		if _, ok := a.Log.domains.DomainOf(ctx, "domain", chain); !ok {
			return nil, problem.NotFound("domain_not_found", "No such Domain.")
		}
	}
	return &verifyOutput{Body: Result{OK: true}}, nil
}

func (a *API) exportCheckpoints(ctx context.Context, domainID string, fromSeq int64) (*huma.StreamResponse, error) {
	chain, err := a.chain(ctx, domainID)
	if err != nil {
		return nil, err
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		hctx.SetHeader("Content-Type", "application/x-ndjson")
		hctx.SetHeader("Cache-Control", "no-store")
		enc := json.NewEncoder(hctx.BodyWriter())
		_ = ExportCheckpoints(hctx.Context(), a.Log.db, chain, fromSeq, func(cp *Checkpoint) error {
			return enc.Encode(cp)
		})
	}}, nil
}

func (a *API) export(ctx context.Context, domainID string, fromSeq int64) (*huma.StreamResponse, error) {
	chain, err := a.chain(ctx, domainID)
	if err != nil {
		return nil, err
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		hctx.SetHeader("Content-Type", "application/x-ndjson")
		hctx.SetHeader("Cache-Control", "no-store")
		w := hctx.BodyWriter()
		enc := json.NewEncoder(w)
		flusher, _ := w.(http.Flusher)
		n := 0
		_ = a.Log.Export(hctx.Context(), chain, fromSeq, func(e *Entry) error {
			if err := enc.Encode(e.API()); err != nil {
				return err
			}
			if n++; n%500 == 0 && flusher != nil {
				flusher.Flush()
			}
			return nil
		})
	}}, nil
}
