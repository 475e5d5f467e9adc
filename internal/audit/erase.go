package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/plexsphere/plexsphere/internal/apiv1"
	"github.com/plexsphere/plexsphere/internal/problem"
	"github.com/plexsphere/plexsphere/internal/route"
)

// Right to erasure (issue 16 item 6). An entry names its actor three ways:
// identity_id_ref (bound through a salted commitment since hash_version 2),
// the subject pseudonym (hashed), and, when the object is an identity, the
// object id (bound through a salted commitment since hash_version 3).
// Erasure clears the reference and the object id with their salts, keeps
// the commitments (which the hashes cover, so every chain still verifies),
// and deletes the pseudonym key, the per-(chain, identity) nonce without
// which nobody can derive the pseudonym from the identity id again.

// EraseBatch is how many entries one erasure transaction clears, so that a
// long chain never holds its rows locked for long.
var EraseBatch = 500

// ErasureReport is what an erasure did.
type ErasureReport struct {
	// Pseudonym is the pseudonym the chain knew the identity by (the
	// platform chain's for a platform erasure), derived before its key was
	// deleted.
	Pseudonym string
	// Ref is the identity reference found (user:… or service_identity:…).
	Ref string
	// Erased counts the entries cleared; NotErasable the entries written
	// before hash_version 3 whose hashed object id names the identity.
	Erased, NotErasable int64
}

// identityRefs are the references an identity id can appear under.
func identityRefs(id string) []string {
	return []string{"user:" + id, "service_identity:" + id}
}

// EraseIdentity makes identity id unlinkable in the past entries of chains
// (every chain when chains is nil): it deletes the pseudonym keys, then
// clears, in batches of EraseBatch entries per transaction, every identity
// reference and identity-naming object id (hash_version 3) with their salts.
// It appends nothing; the caller audits the erasure. pseudonymChain is the
// chain whose pseudonym the report names.
func (l *Log) EraseIdentity(ctx context.Context, chains []string, pseudonymChain, id string) (ErasureReport, error) {
	refs := identityRefs(id)
	rep := ErasureReport{Ref: refs[0]}
	if chains == nil {
		var err error
		if chains, err = Chains(ctx, l.db); err != nil {
			return rep, err
		}
	}
	var err error
	if rep.Pseudonym, rep.Ref, err = l.currentPseudonym(ctx, pseudonymChain, refs); err != nil {
		return rep, err
	}
	for _, chain := range chains {
		if _, err := l.db.ExecContext(ctx, `DELETE FROM audit_pseudonym_keys WHERE chain_id = $1
			AND identity_ref IN ($2, $3)`, chain, refs[0], refs[1]); err != nil {
			return rep, fmt.Errorf("audit: erase pseudonym key: %w", err)
		}
		n, err := l.eraseBatches(ctx, `UPDATE audit_entries SET identity_id_ref = '', identity_ref_salt = ''
			WHERE chain_id = $1 AND seq IN (SELECT seq FROM audit_entries
				WHERE chain_id = $1 AND identity_id_ref IN ($2, $3) ORDER BY seq LIMIT $4)`, chain, refs[0], refs[1])
		rep.Erased += n
		if err != nil {
			return rep, err
		}
		n, err = l.eraseBatches(ctx, `UPDATE audit_entries SET object_id = '', object_ref_salt = ''
			WHERE chain_id = $1 AND seq IN (SELECT seq FROM audit_entries
				WHERE chain_id = $1 AND object_id IN ($2, $3, $5) AND object_ref_commit <> '' ORDER BY seq LIMIT $4)`,
			chain, refs[0], refs[1], id)
		rep.Erased += n
		if err != nil {
			return rep, err
		}
		var left int64
		if err := l.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_entries WHERE chain_id = $1
			AND object_id IN ($2, $3, $4)`, chain, refs[0], refs[1], id).Scan(&left); err != nil {
			return rep, fmt.Errorf("audit: erase: %w", err)
		}
		rep.NotErasable += left
	}
	return rep, nil
}

// eraseBatches runs a batch update (its limit is $4, or the last argument
// after the three fixed ones) until it changes no row; each batch is its own
// transaction. It returns the rows changed.
func (l *Log) eraseBatches(ctx context.Context, query string, chain, ref1, ref2 string, extra ...any) (int64, error) {
	var total int64
	args := append([]any{chain, ref1, ref2, EraseBatch}, extra...)
	for {
		var n int64
		err := l.db.Tx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, query, args...)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("audit: erase: %w", err)
		}
		total += n
		if n == 0 {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// currentPseudonym is the pseudonym chain knows the identity by: the keyed
// one when a key exists, else the legacy one of the reference its entries
// carry (user:… when there are none).
func (l *Log) currentPseudonym(ctx context.Context, chain string, refs []string) (string, string, error) {
	for _, ref := range refs {
		var nonce string
		err := l.db.QueryRowContext(ctx, `SELECT nonce FROM audit_pseudonym_keys WHERE chain_id = $1 AND identity_ref = $2`,
			chain, ref).Scan(&nonce)
		if err == nil {
			return l.pseudonym(chain, ref, nonce), ref, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return "", "", fmt.Errorf("audit: pseudonym key: %w", err)
		}
	}
	ref := refs[0]
	var found string
	err := l.db.QueryRowContext(ctx, `SELECT identity_id_ref FROM audit_entries WHERE chain_id = $1
		AND identity_id_ref IN ($2, $3) LIMIT 1`, chain, refs[0], refs[1]).Scan(&found)
	if err == nil {
		ref = found
	} else if !errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("audit: erase: %w", err)
	}
	return l.pseudonym(chain, ref, ""), ref, nil
}

// EraseAPI serves erase-identity on the Domain and platform chains.
type EraseAPI struct {
	Log   *Log
	Authz Authorizer
}

type (
	eraseBody struct {
		Body apiv1.AuditEraseIdentityRequest
	}
	domainErase struct {
		DomainPath
		eraseBody
	}
	eraseOutput struct {
		Body apiv1.AuditEraseIdentityResponse
	}
)

// Register adds EraseIdentityFromAudit and EraseIdentityFromPlatformAudit.
func (a *EraseAPI) Register(api huma.API) {
	op := func(path, id, summary string) huma.Operation {
		op := route.Sensitive(route.Op(http.MethodPost, path, id, "audit.erase-identity", route.Operator, summary, "Audit"))
		op.DefaultStatus = http.StatusAccepted
		op.Description = "Makes the identity unlinkable in the chain's past entries: clears its identity reference, " +
			"any object id naming it (hash_version 3) and their salts, and deletes the key its pseudonym is derived " +
			"with. The hashed commitments stay, so the chain still verifies. Idempotent; the erasure is itself an " +
			"audit.erase-identity entry naming the pseudonym, never the identity. Needs manage (admin) and step-up."
		return op
	}
	huma.Register(api, op("/v1/domains/{domainId}/audit/erase-identity", "EraseIdentityFromAudit",
		"Erase an identity from a Domain's audit chain"), func(ctx context.Context, in *domainErase) (*eraseOutput, error) {
		return a.erase(ctx, in.DomainID, in.Body.IdentityID)
	})
	huma.Register(api, op("/v1/platform/audit/erase-identity", "EraseIdentityFromPlatformAudit",
		"Erase an identity from every audit chain"), func(ctx context.Context, in *eraseBody) (*eraseOutput, error) {
		return a.erase(ctx, "", in.Body.IdentityID)
	})
}

func (a *EraseAPI) erase(ctx context.Context, domainID, identityID string) (*eraseOutput, error) {
	chain, object := PlatformChain, "platform:platform"
	if domainID != "" {
		u, err := uuid.Parse(domainID)
		if err != nil || u == uuid.Nil {
			return nil, problem.BadRequest("invalid_domain_id", "The domain id must be a UUID.")
		}
		chain, object = u.String(), "domain:"+u.String()
	}
	ar := RequestFrom(ctx)
	ar.Target(chain, "audit_subject", "")
	if err := a.Authz.Check(ctx, "manage", object); err != nil {
		return nil, err
	}
	if domainID != "" && a.Log.domains != nil {
		if _, ok := a.Log.domains.DomainOf(ctx, "domain", chain); !ok {
			ar.Target(PlatformChain, "audit_subject", "")
			return nil, problem.NotFound("domain_not_found", "No such Domain.")
		}
	}
	id, err := uuid.Parse(identityID)
	if err != nil || id == uuid.Nil {
		return nil, problem.BadRequest("invalid_identity_id", "identity_id must be a UUID.")
	}
	var chains []string // nil: every chain
	if domainID != "" {
		chains = []string{chain}
	}
	rep, err := a.Log.EraseIdentity(ctx, chains, chain, id.String())
	if err != nil {
		return nil, problem.Internal(err)
	}
	// The erasure's own entry names the pseudonym, never the identity.
	ar.Target(chain, "audit_subject", rep.Pseudonym)
	var at time.Time
	err = a.Log.db.Tx(ctx, func(tx *sql.Tx) error {
		e, err := a.Log.commitEntry(ctx, tx)
		at = e.OccurredAt
		return err
	})
	if err != nil {
		return nil, problem.Internal(err)
	}
	return &eraseOutput{Body: apiv1.AuditEraseIdentityResponse{SubjectPseudonym: rep.Pseudonym, ErasedAt: at.UTC(),
		EntriesErased: rep.Erased, EntriesNotErasable: rep.NotErasable}}, nil
}
