package plexctl

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/plexsphere/plexsphere/internal/apiclient"
	"github.com/plexsphere/plexsphere/internal/apiv1"
)

// chainFlags select the audit chain: --domain ID or --platform.
type chainFlags struct {
	domain   string
	platform bool
}

func (f chainFlags) chain() apiclient.Chain {
	if f.platform {
		return apiclient.PlatformChain()
	}
	return apiclient.DomainChain(f.domain)
}

var auditColumns = []column[apiv1.AuditEntry]{
	{"SEQ", func(e apiv1.AuditEntry) string { return strconv.FormatInt(e.Seq, 10) }},
	{"OCCURRED", func(e apiv1.AuditEntry) string { return ts(e.OccurredAt) }},
	{"ACTION", func(e apiv1.AuditEntry) string { return e.Action }},
	{"OUTCOME", func(e apiv1.AuditEntry) string { return e.Outcome }},
	{"SUBJECT", func(e apiv1.AuditEntry) string { return short(e.Subject.Pseudonym, 12) }},
	{"OBJECT", func(e apiv1.AuditEntry) string { return objectRef(e.Object) }},
	{"DECISION", func(e apiv1.AuditEntry) string { return decisionOf(e.Decision) }},
	{"CORRELATION", func(e apiv1.AuditEntry) string { return e.CorrelationID }},
}

// decisionOf is the decision as the chain stores it (allowed, denied,
// none), or the contract's result from a server that sends only that.
func decisionOf(d apiv1.AuditDecision) string {
	if d.ResultDetail != "" {
		return d.ResultDetail
	}
	return d.Result
}

// reasonOf is the reason shown, with the stored one when it says more.
func reasonOf(e apiv1.AuditEntry) string {
	if e.ReasonDetail == "" || e.ReasonDetail == e.Reason {
		return e.Reason
	}
	return e.Reason + " (" + e.ReasonDetail + ")"
}

// caveatNames lists the caveat context's names, sorted.
func caveatNames(d apiv1.AuditDecision) string {
	names := make([]string, 0, len(d.CaveatContext))
	for n := range d.CaveatContext {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func short(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func objectRef(o apiv1.AuditObject) string {
	if o.Type == "" && o.ID == "" {
		return ""
	}
	return o.Type + ":" + o.ID
}

func (a *app) auditCommand() *cobra.Command {
	var cf chainFlags
	cmd := a.group(&cobra.Command{
		Use:   "audit",
		Short: "Read, verify and export a tamper-evident audit chain",
		Long: `Read, verify and export an audit hash chain: a Domain's (--domain ID) or the
platform's (--platform). Every subcommand needs exactly one of the two.`,
		Example: `  plexctl audit list --domain 0190c0de-… --action domain.create --from 24h
  plexctl audit verify --platform
  plexctl audit export --domain 0190c0de-… --file audit.jsonl --resume`,
	})
	pf := cmd.PersistentFlags()
	pf.StringVar(&cf.domain, "domain", "", "the audit chain of this Domain id")
	pf.BoolVar(&cf.platform, "platform", false, "the platform audit chain")
	cmd.MarkFlagsMutuallyExclusive("domain", "platform")
	cmd.AddCommand(a.auditListCommand(&cf), a.auditGetCommand(&cf), a.auditVerifyCommand(&cf),
		a.auditExportCommand(&cf), a.auditCheckpointsCommand(&cf), a.auditEraseCommand(&cf))
	return cmd
}

// require checks that exactly one chain was selected.
func (f chainFlags) require() error {
	if f.domain == "" && !f.platform {
		return usagef("select an audit chain with --domain ID or --platform")
	}
	if f.domain != "" && f.platform {
		return usagef("--domain and --platform are mutually exclusive")
	}
	return nil
}

// auditFilterFlags are the filters of "audit list".
type auditFilterFlags struct {
	f        apiclient.AuditFilter
	from, to string
}

func (a *app) auditListCommand(cf *chainFlags) *cobra.Command {
	var pf pageFlags
	var ff auditFilterFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List chain entries in seq order, with filters",
		Long: `List chain entries in seq order. --from and --to take an RFC 3339 instant or a
duration meaning that long ago (e.g. 24h).`,
		Example: `  plexctl audit list --platform
  plexctl audit list --domain 0190c0de-… --outcome denied --from 2025-06-01T00:00:00Z --to 1h
  plexctl audit list --domain 0190c0de-… --correlation-id 0190… -o json`,
		Args: exactArgs(),
	}
	addPageFlags(cmd, &pf)
	addAuditFilterFlags(cmd, &ff)
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		if err := cf.require(); err != nil {
			return err
		}
		filter, err := ff.resolve(a.now())
		if err != nil {
			return err
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		l, err := fetchList(cmd.Context(), pf, c.AuditPages(cf.chain(), filter))
		if err != nil {
			return err
		}
		return printList(a, l, auditColumns)
	})
	return calls(cmd, "listDomainAuditEntries", "listPlatformAuditEntries")
}

func addAuditFilterFlags(cmd *cobra.Command, ff *auditFilterFlags) {
	f := cmd.Flags()
	f.StringVar(&ff.f.Action, "action", "", "only this action, e.g. domain.create")
	f.StringVar(&ff.f.Outcome, "outcome", "", "only this outcome: succeeded, denied or failed")
	f.StringVar(&ff.f.CorrelationID, "correlation-id", "", "only entries of this correlation id")
	f.StringVar(&ff.f.Subject, "subject", "", "only this subject pseudonym")
	f.StringVar(&ff.f.Relation, "relation", "", "only this relation")
	f.StringVar(&ff.f.ObjectType, "object-type", "", "only objects of this type")
	f.StringVar(&ff.f.ObjectID, "object-id", "", "only this object id")
	f.StringVar(&ff.f.Reason, "reason", "", "only this reason: granted, out_of_scope, insufficient_relation, caveat_violation or unknown")
	f.StringVar(&ff.f.ReasonDetail, "reason-detail", "", "only this stored reason, e.g. unauthenticated or rate_limited")
	f.StringVar(&ff.from, "from", "", "entries at or after this instant (RFC 3339, or a duration ago)")
	f.StringVar(&ff.to, "to", "", "entries at or before this instant (RFC 3339, or a duration ago)")
	_ = cmd.RegisterFlagCompletionFunc("outcome", cobra.FixedCompletions(
		[]string{"succeeded", "denied", "failed"}, cobra.ShellCompDirectiveNoFileComp))
}

func (ff auditFilterFlags) resolve(now time.Time) (apiclient.AuditFilter, error) {
	f := ff.f
	var err error
	if f.From, err = parseInstant("--from", ff.from, now); err != nil {
		return f, err
	}
	if f.To, err = parseInstant("--to", ff.to, now); err != nil {
		return f, err
	}
	return f, nil
}

// parseInstant reads an RFC 3339 instant, or a duration before now.
func parseInstant(flag, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, usagef("%s %q: want an RFC 3339 instant or a duration such as 24h", flag, v)
}

func (a *app) auditGetCommand(cf *chainFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get SEQ",
		Short: "Show one chain entry and check its hash proof locally",
		Long: `Show one chain entry with its proof, and recompute entry_hash =
SHA-256(prev_hash ‖ SHA-256(canonical_bytes)) locally; for hash_version 2
entries, also check that the identity reference matches the commitment the
hash covers (version 3: an object id naming an identity too). A proof that
does not match exits with status 1.`,
		Example: `  plexctl audit get 42 --domain 0190c0de-…
  plexctl audit get 7 --platform -o json`,
		Args: exactArgs("SEQ"),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		if err := cf.require(); err != nil {
			return err
		}
		seq, err := strconv.ParseInt(args[0], 10, 64)
		if err != nil || seq < 1 {
			return usagef("SEQ %q: want a sequence number from 1", args[0])
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		e, err := c.GetAuditEntry(cmd.Context(), cf.chain(), seq)
		if err != nil {
			return err
		}
		proofErr := apiclient.CheckProof(e.Proof)
		if proofErr == nil {
			proofErr = apiclient.CheckIdentity(e)
		}
		if err := printFields(a, e, entryFields(e, proofErr)); err != nil {
			return err
		}
		if proofErr != nil {
			return fmt.Errorf("entry %d: %w", seq, proofErr)
		}
		return nil
	})
	return calls(cmd, "getDomainAuditEntry", "getPlatformAuditEntry")
}

func entryFields(e *apiv1.AuditEntryWithProof, proofErr error) []field {
	x := e.Entry
	proof := "ok (recomputed locally)"
	if errors.Is(proofErr, apiclient.ErrProofMismatch) || errors.Is(proofErr, apiclient.ErrIdentityMismatch) {
		proof = "MISMATCH"
	} else if proofErr != nil {
		proof = "invalid"
	}
	return []field{
		{"Seq", strconv.FormatInt(x.Seq, 10)},
		{"Occurred", ts(x.OccurredAt)},
		{"Action", x.Action},
		{"Outcome", x.Outcome},
		{"Reason", reasonOf(x)},
		{"Subject", x.Subject.Pseudonym},
		{"Identity", x.Subject.IdentityIDRef},
		{"Relation", x.Relation},
		{"Object", objectRef(x.Object)},
		{"Decision", decisionOf(x.Decision)},
		{"Caveat context", caveatNames(x.Decision)},
		{"Correlation id", x.CorrelationID},
		{"Client IP", x.RequestContext.IP},
		{"User agent", x.RequestContext.UserAgent},
		{"Prev hash", e.Proof.PrevHash},
		{"Entry hash", e.Proof.EntryHash},
		{"Proof", proof},
	}
}

func (a *app) auditVerifyCommand(cf *chainFlags) *cobra.Command {
	var in apiv1.AuditVerifyRequest
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Have the server recompute the chain, or a segment of it",
		Long:  "Have the server recompute the chain or a segment. A divergence exits with status 1.",
		Example: `  plexctl audit verify --domain 0190c0de-…
  plexctl audit verify --platform --from-seq 1000 --to-seq 2000 -o json`,
		Args: exactArgs(),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, _ []string) error {
		if err := cf.require(); err != nil {
			return err
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		r, err := c.VerifyAudit(cmd.Context(), cf.chain(), in)
		if err != nil {
			return err
		}
		if err := printFields(a, r, verifyFields(r)); err != nil {
			return err
		}
		if !r.OK {
			return fmt.Errorf("audit chain %s diverges at seq %d", cf.chain(), r.DivergentSeq)
		}
		return nil
	})
	cmd.Flags().Int64Var(&in.FromSeq, "from-seq", 0, "first seq of the segment (default: the start)")
	cmd.Flags().Int64Var(&in.ToSeq, "to-seq", 0, "last seq of the segment (default: the end)")
	return calls(cmd, "verifyDomainAuditChain", "verifyPlatformAuditChain")
}

func verifyFields(r *apiv1.AuditVerifyResult) []field {
	fs := []field{
		{"OK", strconv.FormatBool(r.OK)},
		{"Segment", fmt.Sprintf("%d..%d", r.SegmentFrom, r.SegmentTo)},
		{"Entries checked", strconv.FormatInt(r.EntriesLooked, 10)},
	}
	if !r.OK {
		fs = append(fs,
			field{"Divergent seq", strconv.FormatInt(r.DivergentSeq, 10)},
			field{"Expected hash", r.ExpectedHash},
			field{"Observed hash", r.ObservedHash},
			field{"Reason", r.Reason})
	}
	return fs
}

func (a *app) auditEraseCommand(cf *chainFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "erase-identity IDENTITY_ID",
		Short: "Make an identity unlinkable in the chain's past entries (right to erasure)",
		Long: `Erase an identity from an audit chain (--domain ID) or from every chain
(--platform): its identity reference, any object id naming it and their salts
are cleared, and the key its pseudonym is derived with is deleted. The hashes
cover only salted commitments of these values, so the chain still verifies.
The erasure is itself an audit entry (audit.erase-identity) naming the
pseudonym, never the identity. Needs admin on the Domain (the platform) and a
stepped-up sign-in. It cannot be undone; erasing twice is harmless.`,
		Example: `  plexctl audit erase-identity 0190d1e2-… --domain 0190c0de-…
  plexctl audit erase-identity 0190d1e2-… --platform -o json`,
		Args: exactArgs("IDENTITY_ID"),
	}
	cmd.RunE = a.action(func(cmd *cobra.Command, args []string) error {
		if err := cf.require(); err != nil {
			return err
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		r, err := c.EraseIdentity(cmd.Context(), cf.chain(), args[0])
		if err != nil {
			return err
		}
		return printFields(a, r, []field{
			{"Subject pseudonym", r.SubjectPseudonym},
			{"Erased at", ts(r.ErasedAt)},
			{"Entries erased", strconv.FormatInt(r.EntriesErased, 10)},
			{"Entries not erasable", strconv.FormatInt(r.EntriesNotErasable, 10)},
		})
	})
	return calls(cmd, "EraseIdentityFromAudit", "EraseIdentityFromPlatformAudit")
}
