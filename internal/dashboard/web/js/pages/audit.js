// Audit: a chain's entries (filterable, cursor-paged), one entry with its
// hash proof (re-checked in the browser), and chain verification.
import { html, useState, useEffect, PageHeader, DataTable, Button, KV, Card, Spinner, ErrorBox, StatusBadge, CodeBlock, Short, fmtTime, useLoad, EmptyState } from '../ui.js';
import { get, post } from '../api.js';
import { useDomains } from './projects.js';
import { NodeAudit } from './logs.js';

// chainOf names the chain of a route: a Domain's or the platform's.
function chainOf(params) {
  return params.id
    ? { base: `/v1/domains/${encodeURIComponent(params.id)}/audit`, route: `#/domains/${params.id}/audit`, name: 'Domain' }
    : { base: '/v1/platform/audit', route: '#/platform/audit', name: 'Platform' };
}

function AuditIndex() {
  const domains = useDomains();
  return html`<div>
    <${PageHeader} title="Audit" />
    <p class="muted">Every change, denial and failed sign-in is an entry of a hash chain: each Domain has one, the platform another.</p>
    <${ErrorBox} error=${domains.error} />
    ${domains.loading ? html`<${Spinner} />` : html`<ul data-testid="audit-chains">
      ${(domains.data || []).map((d) => html`<li><a href=${`#/domains/${d.id}/audit`} data-testid="audit-chain-link" data-id=${d.id}>${d.name}</a> <span class="muted">(${d.slug})</span></li>`)}
      <li><a href="#/platform/audit" data-testid="audit-platform-link">Platform</a> <span class="muted">(platform administrators)</span></li>
    </ul>`}
  </div>`;
}

// VerifyResult shows POST …/verify's answer.
function VerifyResult({ result, testid = 'verify-result' }) {
  if (!result) return null;
  return html`<${Card} testid=${testid}>
    ${result.ok
      ? html`<p class="chain-ok" data-testid=${`${testid}-ok`} data-ok="true">✓ Chain intact: entries ${result.segment_from}–${result.segment_to} (${result.entries_checked} checked) recompute to their stored hashes.</p>`
      : html`<p class="chain-bad" data-testid=${`${testid}-bad`} data-ok="false">✗ The chain diverges at entry ${result.divergent_seq}: ${result.reason || 'hash mismatch'}.</p>
        <${KV} items=${[['Expected', html`<span class="mono">${result.expected_hash}</span>`], ['Observed', html`<span class="mono">${result.observed_hash}</span>`]]} />`}
  <//>`;
}

const outcomes = [['', 'any'], ['succeeded', 'succeeded'], ['denied', 'denied'], ['failed', 'failed']];

function ChainPage({ params, query = {} }) {
  const chain = chainOf(params);
  const nodes = !!params.id && query.view === 'nodes';
  const domain = useLoad(() => (params.id ? get(`/v1/domains/${encodeURIComponent(params.id)}`) : Promise.resolve(null)), [params.id]);
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const verify = async () => {
    setBusy(true);
    setError(null);
    try {
      setResult(await post(`${chain.base}/verify`, {}));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const title = params.id ? `Audit: ${domain.data?.name || 'Domain'}` : 'Audit: Platform';
  return html`<div>
    <${PageHeader} title=${title}>
      ${!nodes && html`<${Button} variant="primary" onClick=${verify} disabled=${busy} data-testid="audit-verify">${busy ? html`<${Spinner} label="Verifying" />` : ''} Verify chain<//>`}
    <//>
    ${params.id && html`<nav class="tabs" aria-label="Audit streams" data-testid="audit-tabs">
      <a href=${chain.route} aria-current=${nodes ? undefined : 'page'} data-testid="audit-tab-chain">Control plane (hash chain)</a>
      <a href=${`${chain.route}?view=nodes`} aria-current=${nodes ? 'page' : undefined} data-testid="audit-tab-nodes">Node audit (auditd, Kubernetes)</a>
    </nav>`}
    ${nodes ? html`<${NodeAudit} domainID=${params.id} />` : html`
    <${ErrorBox} error=${error} testid="audit-verify-error" />
    <${VerifyResult} result=${result} />
    <${DataTable} path=${`${chain.base}/entries`} testid="audit" caption="Entries in chain order (seq)"
      onRow=${(e) => { location.hash = `${chain.route}/${e.seq}`; }} rowKey="seq"
      filters=${[
        { name: 'action', label: 'Action', placeholder: 'e.g. domain.create' },
        { name: 'outcome', label: 'Outcome', type: 'select', options: outcomes },
        { name: 'object_type', label: 'Object type', placeholder: 'e.g. project' },
        { name: 'object_id', label: 'Object id' },
        { name: 'correlation_id', label: 'Correlation id' },
      ]}
      empty=${html`<${EmptyState} title="No entries" testid="audit-empty">No entry matches these filters.<//>`}
      columns=${[
        { key: 'seq', label: 'Seq', render: (e) => html`<a href=${`${chain.route}/${e.seq}`} data-testid="audit-entry-link" data-action=${e.action}>${e.seq}</a>` },
        { key: 'occurred_at', label: 'When', render: (e) => fmtTime(e.occurred_at) },
        { key: 'action', label: 'Action', render: (e) => html`<span class="mono" data-testid="audit-action">${e.action}</span>` },
        { key: 'outcome', label: 'Outcome', render: (e) => html`<${StatusBadge} status=${e.outcome} />` },
        { key: 'reason_detail', label: 'Reason' },
        { key: 'object', label: 'Object', render: (e) => html`<span class="mono">${e.object?.type}${e.object?.id ? ':' : ''}</span><${Short} value=${e.object?.id} />` },
        { key: 'subject', label: 'Subject', render: (e) => html`<${Short} value=${e.subject?.pseudonym} n=${10} />` },
        { key: 'entry_hash', label: 'Entry hash', render: (e) => html`<${Short} value=${e.entry_hash} n=${12} />` },
      ]} />`}
  </div>`;
}

const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
const unhex = (s) => new Uint8Array((s.match(/../g) || []).map((b) => parseInt(b, 16)));
const unbase64 = (s) => Uint8Array.from(atob(s || ''), (c) => c.charCodeAt(0));

// recompute checks entry_hash = SHA-256(prev_hash ‖ SHA-256(canonical_bytes))
// (docs/audit.md) with the browser's own SHA-256.
async function recompute(proof) {
  const canon = unbase64(proof.canonical_bytes);
  const inner = new Uint8Array(await crypto.subtle.digest('SHA-256', canon));
  const prev = unhex(proof.prev_hash);
  const buf = new Uint8Array(prev.length + inner.length);
  buf.set(prev);
  buf.set(inner, prev.length);
  return hex(await crypto.subtle.digest('SHA-256', buf));
}

function EntryPage({ params }) {
  const chain = chainOf(params);
  const seq = params.seq;
  const { data, error, loading } = useLoad(() => get(`${chain.base}/entries/${encodeURIComponent(seq)}`), [chain.base, seq]);
  const [local, setLocal] = useState(null);
  const [result, setResult] = useState(null);
  const [verr, setVerr] = useState(null);
  useEffect(() => {
    if (!data) return;
    recompute(data.proof).then((h) => setLocal(h)).catch(() => setLocal(''));
  }, [data]);
  if (loading) return html`<${Spinner} />`;
  if (error) return html`<${PageHeader} title=${`Entry ${seq}`} /><${ErrorBox} error=${error} />`;
  const { entry: e, proof } = data;
  const verify = async () => {
    setVerr(null);
    try {
      setResult(await post(`${chain.base}/verify`, { to_seq: Number(seq) }));
    } catch (x) {
      setVerr(x);
    }
  };
  let canonical = '';
  try { canonical = new TextDecoder().decode(unbase64(proof.canonical_bytes)); } catch { canonical = proof.canonical_bytes; }
  const matches = local !== null && local === proof.entry_hash && proof.entry_hash === e.entry_hash;
  return html`<div data-testid="audit-entry" data-seq=${e.seq}>
    <${PageHeader} title=${`Entry ${e.seq}: ${e.action}`}>
      <a class="btn" href=${chain.route} data-testid="audit-back">Chain</a>
      <${Button} variant="primary" onClick=${verify} data-testid="audit-entry-verify">Verify chain up to here<//>
    <//>
    <${ErrorBox} error=${verr} />
    <${VerifyResult} result=${result} />
    <${Card} title="Entry">
      <${KV} testid="audit-entry-kv" items=${[
        ['Seq', e.seq], ['When', fmtTime(e.occurred_at)], ['Action', html`<span class="mono">${e.action}</span>`],
        ['Outcome', html`<${StatusBadge} status=${e.outcome} />`], ['Reason', `${e.reason} (${e.reason_detail})`],
        ['Subject', html`<span class="mono">${e.subject?.pseudonym}</span>`], ['Relation', e.relation || '—'],
        ['Object', html`<span class="mono">${e.object?.type}:${e.object?.id || e.object?.id_commitment || ''}</span>`],
        ['Decision', `${e.decision?.result} (${e.decision?.result_detail})`], ['Correlation id', html`<span class="mono">${e.correlation_id}</span>`],
        ['Client', `${e.request_context?.ip || ''} ${e.request_context?.user_agent || ''}`],
        ['Hash version', e.hash_version],
      ]} />
    <//>
    <${Card} title="Proof">
      <p class="muted">entry_hash = SHA-256(prev_hash ‖ SHA-256(canonical_bytes)); this browser recomputes it.</p>
      <${KV} testid="audit-proof" items=${[
        ['prev_hash', html`<span class="mono">${proof.prev_hash}</span>`],
        ['entry_hash', html`<span class="mono" data-testid="audit-entry-hash">${proof.entry_hash}</span>`],
        ['Recomputed', local === null ? html`<${Spinner} />` : html`<span class="mono">${local}</span>`],
        ['Check', local === null ? '' : matches
          ? html`<span class="chain-ok" data-testid="audit-proof-ok">✓ matches</span>`
          : html`<span class="chain-bad" data-testid="audit-proof-bad">✗ does not match</span>`],
      ]} />
      <h3>Canonical bytes</h3>
      <${CodeBlock} code=${canonical} lang="json" title="canonical_bytes (RFC 8785)" wrap testid="audit-canonical" />
    <//>
  </div>`;
}

export const routes = [
  { path: '#/audit', title: 'Audit', nav: 'Audit', component: AuditIndex },
  { path: '#/domains/{id}/audit', title: 'Audit', component: ChainPage, navParent: '#/audit' },
  { path: '#/domains/{id}/audit/{seq}', title: 'Audit entry', component: EntryPage, navParent: '#/audit' },
  { path: '#/platform/audit', title: 'Platform audit', component: ChainPage, navParent: '#/audit' },
  { path: '#/platform/audit/{seq}', title: 'Audit entry', component: EntryPage, navParent: '#/audit' },
];
