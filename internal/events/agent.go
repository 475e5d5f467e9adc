package events

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/plexsphere/plexsphere/internal/enroll"
	"github.com/plexsphere/plexsphere/internal/nodeproto"
	"github.com/plexsphere/plexsphere/internal/nodestate"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
	"github.com/plexsphere/plexsphere/internal/store"
)

// NodeBodyLimit bounds a node request body after decompression (C1: at
// least 10 MiB).
const NodeBodyLimit = 10 << 20

// Bounds of what is kept from agent reports: the last heartbeat body, and
// the corrections of the last drift report.
const (
	maxStoredHeartbeat   = 16 << 10
	maxStoredCorrections = 1000
)

// defaultStaleWindow is the stale window of a node the enrollment tables do
// not hold (a heartbeat gap this long starts a new healthy run).
const defaultStaleWindow = 90 * time.Second

// StateKeys renders a Domain's signing_keys for state (DomainKeys).
type StateKeys interface {
	WireKeys(ctx context.Context, domainID string) (*nodeproto.SigningKeys, error)
}

// Deregisterer decommissions a node at its own request (§5.2): revoke the
// NSK, release the mesh IP, drop it from its peers' state and append
// peer_removed for them, in one transaction. The enrollment context owns it.
type Deregisterer interface {
	Deregister(ctx context.Context, nodeID string) error
}

// AgentOptions wires the node-facing endpoints other than the stream.
type AgentOptions struct {
	// Keys fills state.signing_keys; nil omits it (K1). It is used only
	// when State is nil (the composition root puts StateProviders(Keys)
	// into its composer).
	Keys StateKeys
	// State composes GET …/state; nil: DomainPeers, then
	// StateProviders(Keys) (an event plane without the mesh context).
	State *nodestate.Composer
	// Deregister serves POST …/deregister; nil answers 503.
	Deregister Deregisterer
	// Caller binds the NSK to the path (nil when the API middleware does).
	Caller CallerFunc
	// Paths keeps the per-peer paths of level-2 heartbeats (mesh.peers)
	// and serves the peers member of …/reachability; nil keeps none.
	Paths PeerPaths
	// Rotations sets the heartbeat's rotate_keys flag while a key rotation
	// of the node is pending, at level 2 only (§5.2); nil never sets it.
	Rotations RotationPending
	// Secrets serves GET …/secrets/{name} and the level-2 sealing key;
	// nil answers every fetch 404 secret_not_found.
	Secrets SecretSource
	// Ingest stores telemetry batches (POST …/metrics, …/logs, …/audit);
	// nil accepts and counts them without storing (the receipt only).
	Ingest Ingester
}

// Ingester stores a node's telemetry batch (the observability context).
// It answers how many records it accepted, or a problem (400 for a
// malformed batch, 413, 429 with Retry-After); a resent batch it already
// has is accepted again without storing it twice.
type Ingester interface {
	Ingest(ctx context.Context, b IngestBatch) (accepted int, err error)
}

// IngestBatch is one telemetry batch as the node sent it, inflated.
type IngestBatch struct {
	// NodeID is the authenticated sender; Kind is metrics, logs or audit.
	NodeID, Kind string
	// ContentType is application/json (a JSON array, §12.7) or
	// application/x-ndjson (the contract's logs and audit lines).
	ContentType string
	// IdempotencyKey is our plexd's key for the batch ("" from the existing
	// agent, whose resends are recognised by content).
	IdempotencyKey string
	// SentAt is the contract clients' X-Plexsphere-Sent-At (zero if absent).
	SentAt time.Time
	Body   []byte
}

// SecretSource delivers secrets to nodes (the secrets context).
type SecretSource interface {
	NodeSecret(ctx context.Context, nodeID, name string, version int64, level int) (nodeproto.SecretResponse, error)
	RegisterSealingKey(ctx context.Context, nodeID, publicKey string) (nodeproto.SealingKeyResponse, error)
}

// RotationPending reports whether a WireGuard key rotation of a node is
// pending (the key rotation context's Service).
type RotationPending interface {
	Pending(ctx context.Context, nodeID string) (bool, error)
}

type nodeInput struct {
	ID string `path:"id" doc:"The node id."`
}

type bodyInput struct {
	ID          string `path:"id" doc:"The node id."`
	Protocol    string `header:"X-Plexd-Protocol" doc:"The agent's highest protocol level (§1.3)."`
	ContentType string `header:"Content-Type" doc:"application/json; the telemetry ingests also take application/x-ndjson."`
	RawBody     []byte
}

// secretInput names the secret as the contract does ({name}, ?version);
// the level-1 path is the same URL (§11.1 calls the segment key).
type secretInput struct {
	ID       string `path:"id" doc:"The node id."`
	Name     string `path:"name" doc:"The secret's name (the level-1 key)."`
	Version  int64  `query:"version" minimum:"1" doc:"The version to fetch; the current one when absent."`
	Protocol string `header:"X-Plexd-Protocol" doc:"The agent's highest protocol level (§1.3)."`
	Accept   string `header:"Accept" doc:"application/octet-stream for the binary form (api.md §3.8); JSON otherwise."`
}

type stateOutput struct {
	Body nodeproto.StateSnapshot
}

type heartbeatOutput struct {
	Body nodeproto.HeartbeatResponse
}

// RegisterAgent adds the node-facing endpoints of §5 that belong to the
// agent plane: state, heartbeat, drift, capabilities, report, deregister,
// the secrets placeholder and the telemetry ingest placeholders.
func (s *Service) RegisterAgent(api huma.API, opts AgentOptions) {
	a := &agent{s: s, opts: opts, composer: opts.State}
	if a.composer == nil {
		a.composer = nodestate.New(append([]nodestate.Provider{DomainPeers()}, s.StateProviders(opts.Keys)...)...)
	}
	reg := api.OpenAPI().Components.Schemas
	var bodies []*huma.Operation
	nodeOp := func(method, path, id, action, summary string, body any) huma.Operation {
		op := route.Op(method, path, id, action, route.Node, summary, "Nodes")
		if body != nil {
			op.MaxBodyBytes = NodeBodyLimit + 1
			op.Middlewares = huma.Middlewares{gunzip}
			// The schema documents the body; decoding stays lenient (J4,
			// R6), so huma does not validate it.
			op.SkipValidateBody = true
			op.RequestBody = &huma.RequestBody{Content: map[string]*huma.MediaType{
				"application/json": {Schema: reg.Schema(reflect.TypeOf(body), true, "")},
			}}
			bodies = append(bodies, &op)
		}
		return op
	}
	huma.Register(api, nodeOp(http.MethodGet, "/v1/nodes/{id}/state", "getNodeState", "node.state.read",
		"Reconciliation snapshot (node-protocol §9.1)", nil), a.state)
	huma.Register(api, nodeOp(http.MethodGet, "/v1/nodes/{id}/reachability", "getNodeReachability", "node.reachability.read",
		"The node's reachability projection (the contract's Reachability)", nil), a.reachability)
	huma.Register(api, nodeOp(http.MethodPost, "/v1/nodes/{id}/heartbeat", "postNodeHeartbeat", "node.heartbeat",
		"Liveness; any JSON body is accepted (§5.2)", nodeproto.Heartbeat{}), a.heartbeat)
	huma.Register(api, nodeOp(http.MethodPost, "/v1/nodes/{id}/drift", "postNodeDrift", "node.drift.report",
		"Report applied state changes (§9.4)", nodeproto.DriftReport{}), a.drift)
	huma.Register(api, nodeOp(http.MethodPut, "/v1/nodes/{id}/capabilities", "putNodeCapabilities",
		"node.capabilities.update", "Replace the capability manifest (§5.2)", nodeproto.Capabilities{}), a.capabilities)
	huma.Register(api, nodeOp(http.MethodPost, "/v1/nodes/{id}/report", "postNodeReport", "node.report",
		"Sync node-reported entries (§5.2)", nodeproto.ReportSync{}), a.report)
	// A retry after a lost 204 comes with the NSK the first call revoked;
	// the Deregisterer bounds how long it is answered (issue 8).
	huma.Register(api, route.AcceptRevokedNSK(nodeOp(http.MethodPost, "/v1/nodes/{id}/deregister", "postNodeDeregister",
		"node.deregister", "Decommission this node (§5.2); idempotent for a retry", nil)), a.deregister)
	secretOp := nodeOp(http.MethodGet, "/v1/nodes/{id}/secrets/{name}", "getNodeSecret", "node.secret.read",
		"A secret re-wrapped for the node (§11): JSON, or octet-stream when Accept prefers it", nil)
	secretOp.Responses = map[string]*huma.Response{"200": {Description: "The secret, wrapped for this node.",
		Content: map[string]*huma.MediaType{
			"application/json":         {Schema: reg.Schema(reflect.TypeFor[nodeproto.SecretResponse](), true, "")},
			"application/octet-stream": {Schema: &huma.Schema{Type: "string", Format: "binary"}},
		}}}
	huma.Register(api, secretOp, a.secret)
	huma.Register(api, nodeOp(http.MethodPut, nodeproto.PathSealingKey, "putNodeSealingKey", "node.sealing_key.register",
		"Level 2 (ours): register the node's X25519 sealing key for sealed secret delivery", nodeproto.SealingKeyRequest{}),
		a.sealingKey)
	for _, kind := range []string{"metrics", "logs", "audit"} {
		op := nodeOp(http.MethodPost, "/v1/nodes/{id}/"+kind, "postNode"+titleCase(kind), "node.ingest."+kind,
			"Telemetry batch, a JSON array (§12.7) or NDJSON lines", []json.RawMessage{})
		op.DefaultStatus = http.StatusAccepted // the contract's 202 IngestReceipt
		huma.Register(api, op, func(ctx context.Context, in *ingestInput) (*ingestOutput, error) { return a.ingest(ctx, kind, in) })
	}
	// huma documents a RawBody as a required octet stream; these bodies are
	// optional JSON (an empty heartbeat is {}). The registered operation
	// shares the RequestBody, so this also lifts the runtime requirement.
	for _, op := range bodies {
		if rb := registered(api, op.Method, op.Path); rb != nil {
			rb.Required = false
			rb.Content = op.RequestBody.Content
			delete(rb.Content, "application/octet-stream")
		}
	}
}

// registered returns the RequestBody huma keeps for method and path.
func registered(api huma.API, method, path string) *huma.RequestBody {
	item := api.OpenAPI().Paths[path]
	if item == nil {
		return nil
	}
	var op *huma.Operation
	switch method {
	case http.MethodPost:
		op = item.Post
	case http.MethodPut:
		op = item.Put
	}
	if op == nil {
		return nil
	}
	return op.RequestBody
}

func titleCase(s string) string { return string(s[0]-'a'+'A') + s[1:] }

// agent serves the endpoints registered by RegisterAgent.
type agent struct {
	s        *Service
	opts     AgentOptions
	composer *nodestate.Composer
}

// node checks the path id and, when configured, that the NSK names it.
func (a *agent) node(ctx context.Context, id string) error {
	if !nodeproto.ValidID(id) {
		return problem.BadRequest("invalid_node_id", "The node id is not valid.")
	}
	if a.opts.Caller != nil {
		if caller, ok := a.opts.Caller(ctx); !ok || caller != id {
			return problem.New(http.StatusForbidden, nodeproto.CodeNodeIDMismatch, "The credential belongs to another node.")
		}
	}
	return nil
}

// stateInput is GET …/state: the level decides the level-2 members.
type stateInput struct {
	ID       string `path:"id" doc:"The node id."`
	Protocol string `header:"X-Plexd-Protocol" doc:"The agent's highest protocol level (§1.3)."`
}

// state serves one consistent snapshot (§9.1): the composer's providers
// fill it inside one transaction, and it is checked against the schema
// before it leaves (C9).
func (a *agent) state(ctx context.Context, in *stateInput) (*stateOutput, error) {
	if err := a.node(ctx, in.ID); err != nil {
		return nil, err
	}
	began := time.Now()
	doc := nodeproto.StateSnapshot{StateResponse: nodeproto.StateResponse{Peers: []nodeproto.Peer{},
		Policies: []nodeproto.Policy{}, Data: []nodeproto.DataEntry{}, SecretRefs: []nodeproto.SecretRef{}}}
	var sn nodestate.Node
	err := a.s.db.Tx(ctx, func(tx *sql.Tx) error {
		n, ok, err := (NodeTable{}).lookup(ctx, tx, in.ID)
		if err != nil {
			return err
		} else if !ok {
			return problem.NotFound("node_not_found", "No such node.")
		}
		sn = nodestate.Node{ID: n.ID, DomainID: n.DomainID, Labels: n.Labels,
			Level: nodeproto.NegotiateLevel(nodeproto.ParseLevel(in.Protocol), nodeproto.MaxLevel)}
		return a.composer.Compose(ctx, tx, sn, &doc)
	})
	if err == nil {
		err = a.composer.ComposeLate(ctx, sn, &doc)
	}
	if err != nil {
		return nil, agentError(err)
	}
	if err := doc.Validate(a.s.cfg.Now()); err != nil {
		return nil, problem.Internal(fmt.Errorf("events: state of %s: %w", in.ID, err))
	}
	a.s.stateServed(in.ID, began)
	return &stateOutput{Body: doc}, nil
}

// metadataOf turns the node's labels into state metadata: string values
// under safe keys only (S4, S5).
func metadataOf(labels string) map[string]string {
	var raw map[string]any
	if json.Unmarshal([]byte(labels), &raw) != nil || len(raw) == 0 {
		return nil
	}
	m := map[string]string{}
	for k, v := range raw {
		if sv, ok := v.(string); ok && nodeproto.ValidDataKey(k) {
			m[k] = sv
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// heartbeat takes liveness from the arrival time only and accepts any JSON
// body, the existing agent's zero value included (§5.2, C8). reconcile is
// true once after a stream could not resume (L5).
func (a *agent) heartbeat(ctx context.Context, in *bodyInput) (*heartbeatOutput, error) {
	if err := a.node(ctx, in.ID); err != nil {
		return nil, err
	}
	body, err := jsonBody(in.RawBody)
	if err != nil {
		return nil, err
	}
	raw := body // mesh.peers is read from the whole body, bounded by NodeBodyLimit
	if len(body) > maxStoredHeartbeat {
		body = []byte("{}") // liveness counts; an oversized status is not kept
	}
	level := max(nodeproto.ParseLevel(in.Protocol), 1)
	// The Domain's stale window decides whether this heartbeat starts a new
	// healthy run (reachability.changed_at, issue 8).
	stale, _, err := enroll.HeartbeatWindows(ctx, a.s.db, in.ID)
	if errors.Is(err, sql.ErrNoRows) {
		stale = defaultStaleWindow
	} else if err != nil {
		return nil, unavailableNode(err)
	}
	accepted := a.s.cfg.Now().UTC().Truncate(time.Microsecond)
	now := store.Micros(accepted)
	if _, err := a.s.db.ExecContext(ctx, `INSERT INTO node_agents (node_id, last_heartbeat_at, heartbeat, protocol_level,
		healthy_since) VALUES ($1, $2, $3, $4, $2) ON CONFLICT (node_id) DO UPDATE SET healthy_since = `+enroll.HealthySinceSQL+`,
		last_heartbeat_at = $2, heartbeat = $3,
		protocol_level = CASE WHEN node_agents.protocol_level > $4 THEN node_agents.protocol_level ELSE $4 END`,
		in.ID, now, string(body), level, stale.Microseconds()); err != nil {
		return nil, unavailableNode(err)
	}
	a.peerReports(ctx, in.ID, raw)
	rec, err := a.s.ConsumeReconcile(ctx, in.ID)
	if err != nil {
		return nil, unavailableNode(err)
	}
	rotate := false
	if level >= nodeproto.Level2 && a.opts.Rotations != nil {
		if rotate, err = a.opts.Rotations.Pending(ctx, in.ID); err != nil {
			return nil, unavailableNode(err)
		}
	}
	return &heartbeatOutput{Body: nodeproto.HeartbeatResponse{AcceptedAt: accepted, Reconcile: rec, RotateKeys: rotate}}, nil
}

// drift records the report as information, never as a fault (§9.4);
// corrections that do not decode are dropped (R6).
func (a *agent) drift(ctx context.Context, in *bodyInput) (*struct{}, error) {
	if err := a.node(ctx, in.ID); err != nil {
		return nil, err
	}
	body, err := jsonBody(in.RawBody)
	if err != nil {
		return nil, err
	}
	var rep nodeproto.DriftReport
	if json.Unmarshal(body, &rep) != nil {
		rep = nodeproto.DriftReport{}
	}
	kept := []nodeproto.DriftCorrection{}
	for _, c := range rep.Corrections {
		if c.Type != "" && len(kept) < maxStoredCorrections {
			kept = append(kept, c)
		}
	}
	rep.Corrections = kept
	doc, _ := json.Marshal(rep)
	now := store.Micros(a.s.cfg.Now())
	if _, err := a.s.db.ExecContext(ctx, `INSERT INTO node_agents (node_id, drift, drift_at) VALUES ($1, $2, $3)
		ON CONFLICT (node_id) DO UPDATE SET drift = $2, drift_at = $3`, in.ID, string(doc), now); err != nil {
		return nil, unavailableNode(err)
	}
	return nil, nil
}

// deregister decommissions the node through the enrollment context.
func (a *agent) deregister(ctx context.Context, in *nodeInput) (*struct{}, error) {
	if err := a.node(ctx, in.ID); err != nil {
		return nil, err
	}
	if a.opts.Deregister == nil {
		return nil, unavailableNode(errors.New("no deregistration backend"))
	}
	if err := a.opts.Deregister.Deregister(ctx, in.ID); err != nil {
		return nil, agentError(err)
	}
	return nil, nil
}

// secret is the placeholder of §11 until the secrets context exists: no
// secret is granted to any node, so every key is 404 secret_not_found.
func (a *agent) secret(ctx context.Context, in *secretInput) (*secretOutput, error) {
	if err := a.node(ctx, in.ID); err != nil {
		return nil, err
	}
	if a.opts.Secrets == nil {
		return nil, problem.NotFound(nodeproto.CodeSecretNotFound, "No such secret for this node.").
			WithHeader("Cache-Control", "no-store")
	}
	level := nodeproto.NegotiateLevel(nodeproto.ParseLevel(in.Protocol), nodeproto.MaxLevel)
	resp, err := a.opts.Secrets.NodeSecret(ctx, in.ID, in.Name, in.Version, level)
	if err != nil {
		var p *problem.Problem
		if errors.As(err, &p) {
			return nil, p.WithHeader("Cache-Control", "no-store")
		}
		return nil, unavailableNode(err)
	}
	return secretAnswer(resp, prefersBinary(in.Accept))
}

// sealingKeyInput is PUT …/sealing-key.
type sealingKeyInput struct {
	ID       string `path:"id" doc:"The node id."`
	Protocol string `header:"X-Plexd-Protocol" doc:"The agent's highest protocol level (§1.3); 2 or more."`
	RawBody  []byte
}

type sealingKeyOutput struct {
	Body nodeproto.SealingKeyResponse
}

// sealingKey registers the node's sealing key (level 2 only).
func (a *agent) sealingKey(ctx context.Context, in *sealingKeyInput) (*sealingKeyOutput, error) {
	if err := a.node(ctx, in.ID); err != nil {
		return nil, err
	}
	if nodeproto.NegotiateLevel(nodeproto.ParseLevel(in.Protocol), nodeproto.MaxLevel) < nodeproto.Level2 {
		return nil, problem.BadRequest("protocol_level_required", "Sealing keys are a level-2 feature: send X-Plexd-Protocol: 2.")
	}
	if a.opts.Secrets == nil {
		return nil, problem.NotFound("not_found", "This control plane delivers no secrets.")
	}
	var req nodeproto.SealingKeyRequest
	if err := json.Unmarshal(in.RawBody, &req); err != nil {
		return nil, problem.BadRequest(nodeproto.CodeInvalidRequest, "The body must be {\"public_key\": Key32}.")
	}
	resp, err := a.opts.Secrets.RegisterSealingKey(ctx, in.ID, req.PublicKey)
	if err != nil {
		return nil, agentError(err)
	}
	return &sealingKeyOutput{Body: resp}, nil
}

// jsonBody returns a request body that must be JSON; an empty body counts
// as {}.
func jsonBody(b []byte) ([]byte, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return []byte("{}"), nil
	}
	if !json.Valid(b) {
		return nil, problem.BadRequest(nodeproto.CodeInvalidRequest, "The body is not JSON.")
	}
	return b, nil
}

func agentError(err error) error {
	var p *problem.Problem
	if errors.As(err, &p) {
		return p
	}
	return unavailableNode(err)
}

// unavailableNode is the 503 of a transient failure: never 401/403/404 for
// one (R5).
func unavailableNode(cause error) error {
	return problem.New(http.StatusServiceUnavailable, nodeproto.CodeUnavailable, "").
		WithCause(cause).WithHeader(nodeproto.HeaderRetryAfter, "5")
}
