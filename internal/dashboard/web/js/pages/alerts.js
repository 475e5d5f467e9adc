// Alert rules of a Domain (/v1/domains/{domainId}/alert-rules): list
// (server-side paged), create and edit in a dialog (the contract's name,
// signal, comparator, threshold, severity, enabled, and ours: kind, for,
// labels, webhook_url and the write-only webhook_secret), enable/disable,
// delete with a confirmation.
import { html, useState, PageHeader, DataTable, Button, Dialog, Form, Field, Spinner, StatusBadge, EmptyState, toast } from '../ui.js';
import { post, patch, del, ApiError } from '../api.js';
import { navigate, href } from '../router.js';
import { DomainPicker } from '../widgets/domainpick.js';

const rp = (d) => `/v1/domains/${encodeURIComponent(d)}/alert-rules`;

// SEVERITY_TONE colours alert and incident severities.
export const SEVERITY_TONE = { critical: 'danger', warning: 'warning', info: 'info' };

const CMP = { gt: '>', gte: '>=', lt: '<', lte: '<=' };

// condition renders a rule as what it evaluates.
function condition(r) {
  if (r.kind === 'node_down') return `heartbeat older than ${r.threshold} s`;
  return `(${r.signal}) ${CMP[r.comparator] || r.comparator} ${r.threshold}`;
}

// labelsText and parseLabels convert labels to and from "key=value" lines.
function labelsText(m) {
  return Object.entries(m || {}).map(([k, v]) => `${k}=${v}`).join('\n');
}
function parseLabels(text) {
  const out = {};
  for (const [i, raw] of (text || '').split('\n').entries()) {
    const line = raw.trim();
    if (!line) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) {
      throw new ApiError(400, { detail: 'Labels are key=value lines.', code: 'invalid_labels',
        errors: [{ location: 'body.labels', message: `line ${i + 1}: expected key=value` }] });
    }
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

// numberField reads the threshold (a number field keeps a number).
function threshold(v) {
  const n = typeof v === 'number' ? v : Number(String(v ?? '').trim());
  if (v === undefined || v === '' || !Number.isFinite(n)) {
    throw new ApiError(400, { detail: 'The threshold must be a number.', code: 'invalid_threshold',
      errors: [{ location: 'body.threshold', message: 'a finite number' }] });
  }
  return n;
}

// RuleForm creates a rule (rule null) or edits one: only changed fields
// are sent; a blank secret keeps the stored one.
function RuleForm({ domainID, rule, onDone, onCancel }) {
  const initial = rule ? {
    name: rule.name, kind: rule.kind, signal: rule.signal, comparator: rule.comparator, threshold: rule.threshold,
    for: rule.for, severity: rule.severity, enabled: rule.enabled ? 'true' : 'false', labels: labelsText(rule.labels),
    webhook_url: rule.webhook_url || '', webhook_secret: '',
  } : { name: '', kind: 'promql', signal: '', comparator: 'gt', threshold: '', for: '5m', severity: 'warning', enabled: 'true', labels: '', webhook_url: '', webhook_secret: '' };
  const submit = async (v) => {
    const body = {
      name: v.name, signal: v.signal, comparator: v.comparator, threshold: threshold(v.threshold), severity: v.severity,
      enabled: v.enabled === 'true', for: v.for || '0s', labels: parseLabels(v.labels),
    };
    let saved;
    if (!rule) {
      body.kind = v.kind;
      if (v.webhook_url) body.webhook_url = v.webhook_url;
      if (v.webhook_secret) body.webhook_secret = v.webhook_secret;
      saved = await post(rp(domainID), body);
      toast(`Alert rule ${saved.name} created`, 'success');
    } else {
      const changed = {};
      for (const [k, x] of Object.entries(body)) {
        if (JSON.stringify(x) !== JSON.stringify(k === 'labels' ? (rule.labels || {}) : rule[k])) changed[k] = x;
      }
      if ((v.webhook_url || '') !== (rule.webhook_url || '')) changed.webhook_url = v.webhook_url || '';
      if (v.webhook_secret) changed.webhook_secret = v.webhook_secret;
      saved = await patch(`${rp(domainID)}/${encodeURIComponent(rule.id)}`, changed);
      toast(`Alert rule ${saved.name} saved`, 'success');
    }
    onDone(saved);
  };
  return html`<${Form} initial=${initial} onSubmit=${submit} onCancel=${onCancel} submitLabel=${rule ? 'Save rule' : 'Create rule'} testid="rule-form">
    <${Field} name="name" label="Name" required autofocus hint="Unique in the Domain." />
    ${!rule && html`<${Field} name="kind" label="Kind" type="select" options=${[['promql', 'PromQL condition'], ['node_down', 'Node down (heartbeat age)']]} />`}
    <${Field} name="signal" label="Signal" type="textarea" required placeholder="avg_over_time(plexd_system_cpu_usage_percent[5m])"
      hint="A PromQL instant-vector expression over the Domain's node series; for a node-down rule, any description." />
    <div class="row">
      <${Field} name="comparator" label="Comparator" type="select" options=${[['gt', '> (gt)'], ['gte', '>= (gte)'], ['lt', '< (lt)'], ['lte', '<= (lte)']]} />
      <${Field} name="threshold" label="Threshold" type="number" required hint="Node down: the heartbeat age in seconds." />
      <${Field} name="for" label="For" placeholder="5m" hint="How long it must hold (0s: at once; at most 24h)." />
    </div>
    <div class="row">
      <${Field} name="severity" label="Severity" type="select" options=${['info', 'warning', 'critical']} />
      <${Field} name="enabled" label="Enabled" type="select" options=${[['true', 'enabled'], ['false', 'disabled']]} />
    </div>
    <${Field} name="labels" label="Labels" type="textarea" placeholder="team=sre" hint="One key=value a line, added to every alert (at most 16)." />
    <${Field} name="webhook_url" label="Webhook URL" type="url" placeholder="https://hooks.example.com/plexsphere" hint="Receives Alertmanager-format notifications; empty: none (clearing it also drops the secret)." />
    <${Field} name="webhook_secret" label="Webhook signing secret" type="password"
      hint=${rule?.webhook_secret_set ? 'A secret is stored (never shown). Leave blank to keep it; type a new one to replace it.' : 'Write-only, 16 to 256 characters: signs every notification (HMAC-SHA256).'} />
  <//>`;
}

function AlertRulesPage({ query }) {
  const domainID = query.domain_id || '';
  const [reload, setReload] = useState(0);
  const [editing, setEditing] = useState(null); // null | 'new' | rule
  const [deleting, setDeleting] = useState(null);
  const [busy, setBusy] = useState('');
  const refresh = () => setReload((n) => n + 1);
  const toggle = async (r) => {
    setBusy(r.id);
    try {
      await patch(`${rp(domainID)}/${encodeURIComponent(r.id)}`, { enabled: !r.enabled });
      toast(`Alert rule ${r.name} ${r.enabled ? 'disabled' : 'enabled'}`, 'success');
      refresh();
    } catch (e) { toast(e.detail || e.message, 'danger'); } finally { setBusy(''); }
  };
  const remove = async () => {
    const r = deleting;
    try {
      await del(`${rp(domainID)}/${encodeURIComponent(r.id)}`);
      toast(`Alert rule ${r.name} deleted`, 'success');
      setDeleting(null);
      refresh();
    } catch (e) { toast(e.detail || e.message, 'danger'); setDeleting(null); }
  };
  return html`<div data-testid="alerts-page">
    <${PageHeader} title="Alert rules">
      <${DomainPicker} value=${domainID} onPick=${(id) => navigate('#/alerts', { domain_id: id })} testid="alerts-domain" />
      ${domainID && html`<a class="btn" href=${href('#/incidents', { domain_id: domainID })} data-testid="alerts-incidents">Incidents</a>
        <${Button} variant="primary" onClick=${() => setEditing('new')} data-testid="rule-create">New rule<//>`}
    <//>
    <p class="muted">Rules are evaluated every 30 s over the Domain's node series; a firing rule opens an incident and notifies its webhook.</p>
    ${domainID ? html`<${DataTable} path=${rp(domainID)} testid="rules" reload=${reload} caption="Alert rules"
      empty=${html`<${EmptyState} testid="rules-empty" title="No alert rules" action=${html`<${Button} variant="primary" onClick=${() => setEditing('new')}>New rule<//>`}>Create one to be told when a node series crosses a threshold or a node stops reporting.<//>`}
      columns=${[
        { key: 'name', label: 'Name', render: (r) => html`<strong class="nowrap" data-testid="rule-name" title=${r.id}>${r.name}</strong>` },
        { key: 'condition', label: 'Condition', render: (r) => html`<span class="mono" data-testid="rule-condition">${condition(r)}</span>${r.for && r.for !== '0s' ? html` <span class="muted">for ${r.for}</span>` : ''}` },
        { key: 'severity', label: 'Severity', render: (r) => html`<${StatusBadge} status=${r.severity} tone=${SEVERITY_TONE[r.severity]} />` },
        { key: 'enabled', label: 'State', render: (r) => html`<${StatusBadge} status=${r.enabled ? 'enabled' : 'disabled'} tone=${r.enabled ? 'success' : 'neutral'} testid="rule-state" />` },
        { key: 'labels', label: 'Labels', render: (r) => html`<span class="mono">${labelsText(r.labels).replaceAll('\n', ', ') || '—'}</span>` },
        { key: 'webhook', label: 'Webhook', render: (r) => (r.webhook_url ? html`<span class="mono" title=${r.webhook_url}>${new URL(r.webhook_url).host}</span>${r.webhook_secret_set ? ' (signed)' : ''}` : '—') },
        { key: 'actions', label: 'Actions', render: (r) => html`<div class="row nowrap-row">
          <${Button} size="sm" onClick=${() => setEditing(r)} data-testid="rule-edit" aria-label=${`Edit ${r.name}`}>Edit<//>
          <${Button} size="sm" onClick=${() => toggle(r)} disabled=${busy === r.id} data-testid="rule-toggle" aria-label=${`${r.enabled ? 'Disable' : 'Enable'} ${r.name}`}>${busy === r.id ? html`<${Spinner} />` : ''}${r.enabled ? 'Disable' : 'Enable'}<//>
          <${Button} size="sm" variant="danger" onClick=${() => setDeleting(r)} data-testid="rule-delete" aria-label=${`Delete ${r.name}`}>Delete<//></div>` },
      ]} />` : html`<${Spinner} />`}
    <${Dialog} open=${!!editing} title=${editing === 'new' ? 'New alert rule' : `Edit ${editing?.name || ''}`} onClose=${() => setEditing(null)} testid="rule-dialog">
      ${editing && html`<${RuleForm} key=${editing === 'new' ? 'new' : editing.id} domainID=${domainID} rule=${editing === 'new' ? null : editing}
        onCancel=${() => setEditing(null)} onDone=${() => { setEditing(null); refresh(); }} />`}
    <//>
    <${Dialog} open=${!!deleting} title="Delete this alert rule?" onClose=${() => setDeleting(null)} testid="rule-delete-dialog">
      <p>${deleting?.name}: its open incidents are resolved (and their webhook told). This cannot be undone.</p>
      <div class="form-actions"><${Button} onClick=${() => setDeleting(null)}>Cancel<//>
        <${Button} variant="danger" onClick=${remove} data-testid="rule-delete-confirm">Delete<//></div>
    <//>
  </div>`;
}

export const routes = [
  { path: '#/alerts', title: 'Alert rules', nav: 'Alert rules', component: AlertRulesPage },
];
