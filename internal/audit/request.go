package audit

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"
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
	// decType and decID name the object of the last denied check.
	decType, decID string
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
	r.decType, r.decID = objType, objID
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
// makes its change. An append that fails fails the transaction: no change
// commits without its entry.
func (l *Log) Commit(ctx context.Context, tx *sql.Tx) error {
	_, err := l.commitEntry(ctx, tx)
	return err
}

// commitEntry is Commit, returning the entry appended.
func (l *Log) commitEntry(ctx context.Context, tx *sql.Tx) (Entry, error) {
	r := RequestFrom(ctx)
	e, err := l.appendOrPlatform(ctx, tx, r.entry(ctx, Succeeded, "granted"))
	if err != nil {
		return e, err
	}
	r.mu.Lock()
	r.committed = true
	r.mu.Unlock()
	return e, nil
}

// appendOrPlatform appends e, to the platform chain when its own chain does
// not exist (a Domain that is gone, or an id that never was one).
func (l *Log) appendOrPlatform(ctx context.Context, tx *sql.Tx, e Entry) (Entry, error) {
	out, err := l.Append(ctx, tx, e)
	if errors.Is(err, ErrNoChain) && e.ChainID != PlatformChain {
		e.ChainID = PlatformChain
		return l.Append(ctx, tx, e)
	}
	return out, err
}

// Finish runs after the handler. A mutating request that committed nothing
// but failed or was denied is appended now, in its own transaction; so is
// any denied read and any failed authentication. A denial is written to the
// chain of the Domain its object belongs to (issue 7 row 9). Failed
// authentications and rate-limited requests, which a client causes at will,
// are aggregated per client network and window (issue 7 row 10).
func (l *Log) Finish(ctx context.Context, status int, log *slog.Logger) {
	r := RequestFrom(ctx)
	r.mu.Lock()
	committed, denied, code, reason, anonymous := r.committed, r.decision == "denied", r.code, r.denyReason, r.who == nil
	r.mu.Unlock()
	refused := status == http.StatusUnauthorized || status == http.StatusTooManyRequests
	// flood: what a client can repeat at will without a credential.
	flood := refused || anonymous && status < 500
	var batch []Entry
	if !committed && status >= 400 && (r.Mutating || denied || refused) {
		outcome := Failed
		if denied || refused || status == http.StatusForbidden {
			outcome = Denied
		}
		if reason == "" {
			reason = code
		}
		e := r.entry(ctx, outcome, reason)
		if outcome == Denied {
			l.toDomainChain(ctx, r, &e)
		}
		if !flood || l.burst.admit(e, l.now()) {
			batch = append(batch, e)
		}
	}
	batch = append(l.burst.take(l.now(), false), batch...)
	l.appendBatch(ctx, batch, r.Action, log)
}

// Record appends e, an entry a client can cause at will without a
// credential (a refused sign-in, say), aggregated as failed authentications
// are: the first per client network, chain, action, outcome and reason in a
// window, then one roll-up counting the rest.
func (l *Log) Record(ctx context.Context, e Entry, log *slog.Logger) {
	var batch []Entry
	if l.burst.admit(e, l.now()) {
		batch = append(batch, e)
	}
	l.appendBatch(ctx, append(l.burst.take(l.now(), false), batch...), e.Action, log)
}

// Flush appends the roll-ups of every closed aggregation window; the server
// calls it when it stops.
func (l *Log) Flush(ctx context.Context, log *slog.Logger) {
	l.appendBatch(ctx, l.burst.take(l.now().Add(l.burst.window), true), "audit.flush", log)
}

// appendBatch appends entries in one transaction of their own.
func (l *Log) appendBatch(ctx context.Context, batch []Entry, action string, log *slog.Logger) {
	if len(batch) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	err := l.db.Tx(ctx, func(tx *sql.Tx) error {
		for _, e := range batch {
			if _, err := l.appendOrPlatform(ctx, tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		log.ErrorContext(ctx, "audit append failed", "action", action, "error", err)
	}
}

// toDomainChain moves a denial the handler left on the platform chain to the
// chain of the Domain its object belongs to, when there is one.
func (l *Log) toDomainChain(ctx context.Context, r *Request, e *Entry) {
	if l.domains == nil || e.ChainID != PlatformChain {
		return
	}
	r.mu.Lock()
	objs := [][2]string{{r.decType, r.decID}, {e.ObjectType, e.ObjectID}}
	r.mu.Unlock()
	for _, o := range objs {
		if o[1] == "" {
			continue
		}
		if d, ok := l.domains.DomainOf(ctx, o[0], o[1]); ok {
			e.ChainID = d
			return
		}
	}
}
