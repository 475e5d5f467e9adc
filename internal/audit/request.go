package audit

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"sync"

	"github.com/plexsphere/plexsphere/internal/principal"
)

// Request is what the audit trail knows about one API request: set up by the
// API middleware, targeted by the handler, and finished by the middleware.
type Request struct {
	Action        string
	CorrelationID string
	IP            string
	UserAgent     string
	Mutating      bool

	// mu guards the fields below, which handlers and the middleware set.
	mu         sync.Mutex
	chain      string
	objType    string
	objID      string
	relation   string
	decision   string
	code       string
	who        *principal.Principal
	committed  bool
	denyReason string
}

type requestKey struct{}

// WithRequest returns a context carrying r.
func WithRequest(ctx context.Context, r *Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestFrom returns the request's audit state; outside a request it returns
// a fresh, detached value so callers never need a nil check.
func RequestFrom(ctx context.Context) *Request {
	if r, ok := ctx.Value(requestKey{}).(*Request); ok {
		return r
	}
	return &Request{Action: "internal"}
}

// Target names the chain and object the request acts on. Call it as soon as
// they are known, so a failure later is recorded on the right chain.
func (r *Request) Target(chain, objType, objID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.chain, r.objType, r.objID = chain, objType, objID
}

// Decide records an authorization decision on the request.
func (r *Request) Decide(allowed bool, relation, objType, objID, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.relation = relation
	if allowed {
		r.decision = "allowed"
		return
	}
	r.decision, r.denyReason = "denied", reason
	if r.objType == "" {
		r.objType, r.objID = objType, objID
	}
	if r.chain == "" && objType == "domain" {
		r.chain = objID // a denial on a Domain belongs on that Domain's chain
	}
}

// SetPrincipal records who the request authenticated as, so entries
// appended after the handler name the caller.
func (r *Request) SetPrincipal(p *principal.Principal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.who = p
}

// SetCode records the problem code the request failed with.
func (r *Request) SetCode(code string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.code = code
}

func (r *Request) entry(ctx context.Context, outcome, reason string) Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	chain := r.chain
	if chain == "" {
		chain = PlatformChain
	}
	e := Entry{
		ChainID: chain, Action: r.Action, Outcome: outcome, Reason: reason,
		Relation: r.relation, ObjectType: r.objType, ObjectID: r.objID,
		DecisionResult: r.decision, CorrelationID: r.CorrelationID, IP: r.IP, UserAgent: r.UserAgent,
	}
	p := r.who
	if p == nil {
		p = principal.From(ctx)
	}
	if p != nil {
		e.IdentityRef = p.Ref()
	} else {
		e.IdentityRef = "anonymous"
	}
	return e
}

// Commit appends the request's success entry inside tx, the transaction that
// makes its change.
func (l *Log) Commit(ctx context.Context, tx *sql.Tx) error {
	r := RequestFrom(ctx)
	if _, err := l.Append(ctx, tx, r.entry(ctx, Succeeded, "granted")); err != nil {
		return err
	}
	r.mu.Lock()
	r.committed = true
	r.mu.Unlock()
	return nil
}

// Finish runs after the handler. A mutating request that committed nothing
// but failed or was denied is appended now, in its own transaction; so is
// any denied read.
func (l *Log) Finish(ctx context.Context, status int, log *slog.Logger) {
	r := RequestFrom(ctx)
	r.mu.Lock()
	committed, denied, code, reason := r.committed, r.decision == "denied", r.code, r.denyReason
	r.mu.Unlock()
	if committed || status < 400 || (!r.Mutating && !denied) || status == 401 {
		return
	}
	outcome := Failed
	if denied || status == 403 {
		outcome = Denied
	}
	if reason == "" {
		reason = code
	}
	ctx = context.WithoutCancel(ctx)
	err := l.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := l.Append(ctx, tx, r.entry(ctx, outcome, reason))
		return err
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		log.ErrorContext(ctx, "audit append failed", "action", r.Action, "error", err)
	}
}
