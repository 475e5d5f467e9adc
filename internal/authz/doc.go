// Package authz owns plexsphere's relationship-based access control (ReBAC):
// a Zanzibar-style engine that answers "may this subject do that to this
// object?" from relation tuples, in process and independent of storage.
//
// # Model
//
// A [Schema] declares object types. Each type has named relations. A relation
// may be directly assignable (it lists the [SubjectType]s a stored tuple may
// name, including usersets such as group#member), computed (it has a rewrite
// [Expr]), or both: like Zanzibar's userset rewrites, an assignable relation
// may add a rewrite that includes [This], so domain#admin is both the role
// written as a tuple and the permission that also admits platform managers
// through domain->manage. A relation without subjects is what other systems
// call a permission. Rewrites combine [This], [Rel] (another relation on the
// same object), [Arrow] (tuple-to-userset: follow a relation to other objects
// and take one of their relations), [Union], [Intersect] and [Exclude].
//
// References are written type:id (an [ObjectRef]); a subject is an object or a
// userset type:id#relation (a [SubjectRef]). The platform singleton's id is
// "platform" ([PlatformID], as in the database), and it is written bare, as in
// api.md: "platform", "platform#admin"; "platform:platform" parses too.
//
// # Semantics
//
// A subject holds a relation on an object when the relation's rewrite derives
// it from the stored tuples; a userset subject o#r also trivially holds r on o.
// Recursive data (nested and cyclic groups, cyclic parents) is evaluated as a
// least fixpoint, so a cycle never grants anything by itself. To keep
// exclusion well defined, [NewSchema] rejects schemas in which a relation
// depends on itself through the subtracted side of an exclusion (stratified
// negation). Tuples whose subject type the schema does not allow for their
// relation are ignored, so a stale tuple never widens access.
//
// # Operations
//
// [Engine.Check] answers with a [Decision]: allowed or not, the path of
// relations that granted it (for a denial, the path of the first relation,
// in declaration order, that the subject does hold on the object), and a
// reason for the API's PermissionDenied body. [Engine.LookupResources],
// [Engine.LookupSubjects] and [Engine.Expand] serve lists, audits and the
// expand endpoint. Checks are depth-bounded ([DefaultMaxDepth]; exceeding it
// is [ErrDepthExceeded], never a stack overflow); lookups run iteratively. A
// [Request] attached to a context with [WithRequest] memoises results across
// the checks of one API request.
//
// # Storage
//
// Tuples are read through [TupleReader]. [MemTuples] is the in-memory,
// concurrency-safe, indexed implementation the control plane feeds from its
// database: load every tuple at start with [MemTuples.Load], then apply each
// committed write with [MemTuples.Apply] (idempotent, so a change feed may
// redeliver). Validate writes with [Schema.ValidateTuple] before storing
// them; the store should keep (resource, relation, subject) unique, since the
// index holds a set. Package authztest has the compliance suite any other
// TupleReader must pass.
//
// Caveats (api.md §3.3 caveat_name) are not evaluated here: the engine sees
// the relationship only, and callers must not store caveated tuples in a
// reader until caveats are supported.
package authz
