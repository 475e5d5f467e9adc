// Labels: label Definitions of a scope (list, create), the selector
// preview, and (NodeLabels, used by the node page) a node's assignments
// with assign and unassign.
import { html, useState, useEffect, PageHeader, DataTable, Button, Dialog, Form, Field, Card, ErrorBox, StatusBadge, CodeBlock, EmptyState, Spinner, fmtTime, useLoad, toast } from '../ui.js';
import { get, post, put, del, list } from '../api.js';
import { navigate } from '../router.js';
import { useDomains } from './projects.js';

const KINDS = ['domain', 'project', 'resource', 'node'];

function CreateDefinition({ scope, onCreated, onCancel }) {
  const [kind, id] = scope.split(':');
  const submit = async (v) => {
    const schema = { kind: v.value_kind || 'string' };
    if (schema.kind === 'enum') schema.values = String(v.values || '').split(',').map((s) => s.trim()).filter(Boolean);
    if (schema.kind === 'regex') schema.pattern = v.pattern || '';
    const kinds = String(v.applicable_kinds || '').split(',').map((s) => s.trim()).filter(Boolean);
    const d = await post('/v1/label-definitions', {
      scope: kind, scope_id: id || undefined, local_key: v.local_key, value_schema: schema,
      applicable_kinds: kinds.length ? kinds : undefined, description: v.description || undefined,
    });
    toast(`Label ${d.qualified_key} created`, 'success');
    onCreated(d);
  };
  return html`<${Form} initial=${{ value_kind: 'string', applicable_kinds: 'node' }} onSubmit=${submit} onCancel=${onCancel} submitLabel="Create label" testid="label-form">
    <p class="muted">Scope: <span class="mono">${scope}</span></p>
    <${Field} name="local_key" label="Key" required autofocus hint="Lower-case letters, digits, dots, dashes and underscores." />
    <${Field} name="value_kind" label="Values" type="select" options=${[['string', 'any string'], ['enum', 'one of a list'], ['numeric', 'a number'], ['boolean', 'true or false'], ['regex', 'matching a pattern']]} />
    <${Field} name="values" label="Allowed values (enum)" hint="Comma-separated, for 'one of a list'." />
    <${Field} name="pattern" label="Pattern (regex)" />
    <${Field} name="applicable_kinds" label="Applies to" hint=${`Comma-separated object kinds: ${KINDS.join(', ')}.`} />
    <${Field} name="description" label="Description" type="textarea" />
  <//>`;
}

function SelectorPreview() {
  const [expr, setExpr] = useState('');
  const [res, setRes] = useState(null);
  const [err, setErr] = useState(null);
  const run = async (e) => {
    e.preventDefault();
    setErr(null);
    try { setRes(await post('/v1/labels/selectors/preview', { expression: expr })); } catch (x) { setRes(null); setErr(x); }
  };
  return html`<${Card} title="Selector preview" testid="selector-preview">
    <form class="row" onSubmit=${run} role="search">
      <label class="filter" style=${{ flex: 1 }}>Selector expression
        <input value=${expr} onInput=${(e) => setExpr(e.target.value)} placeholder="role in (web, db), !legacy" data-testid="selector-input" /></label>
      <${Button} type="submit" data-testid="selector-preview-run">Preview<//>
    </form>
    <${ErrorBox} error=${err} testid="selector-error" />
    ${res && res.errors?.length > 0 && html`<ul class="form-error" role="alert" data-testid="selector-errors">
      ${res.errors.map((x) => html`<li>${x.message || JSON.stringify(x)}${x.position !== undefined ? ` (at ${x.position})` : ''}</li>`)}</ul>`}
    ${res && res.ast && html`<div data-testid="selector-ok"><${StatusBadge} status="valid" tone="success" /> <${CodeBlock} code=${res.ast} lang="json" title="Parsed selector" testid="selector-ast" /></div>`}
  <//>`;
}

function LabelsPage({ query }) {
  const domains = useDomains();
  const scope = query.scope || '';
  const [open, setOpen] = useState(false);
  const [reload, setReload] = useState(0);
  useEffect(() => {
    if (!scope && domains.data?.length) navigate('#/labels', { scope: `domain:${domains.data[0].id}` });
  }, [scope, domains.data]);
  return html`<div>
    <${PageHeader} title="Labels">
      <label class="filter">Scope
        <select value=${scope} onChange=${(e) => navigate('#/labels', { scope: e.target.value })} data-testid="labels-scope">
          <option value="platform">Platform</option>
          ${(domains.data || []).map((d) => html`<option value=${`domain:${d.id}`}>Domain ${d.name}</option>`)}
          ${scope.startsWith('project:') && html`<option value=${scope}>Project ${scope.slice(8, 16)}…</option>`}
        </select></label>
      <${Button} variant="primary" onClick=${() => setOpen(true)} disabled=${!scope} data-testid="label-create">New label<//>
    <//>
    ${scope ? html`<${DataTable} path="/v1/label-definitions" params=${{ scope }} testid="labels" reload=${reload}
      empty=${html`<${EmptyState} testid="labels-empty" title="No labels in this scope">Define a label, then assign it to nodes and other objects.<//>`}
      columns=${[
        { key: 'qualified_key', label: 'Key', render: (d) => html`<span class="mono" data-testid="label-key">${d.qualified_key}</span>` },
        { key: 'value_schema', label: 'Values', render: (d) => d.value_schema.kind + (d.value_schema.values ? `: ${d.value_schema.values.join(', ')}` : '') },
        { key: 'applicable_kinds', label: 'Applies to', render: (d) => (d.applicable_kinds || []).join(', ') || 'any' },
        { key: 'cardinality', label: 'Cardinality' },
        { key: 'description', label: 'Description' },
        { key: 'created_at', label: 'Created', render: (d) => fmtTime(d.created_at) },
      ]} />` : html`<${Spinner} />`}
    <${SelectorPreview} />
    <${Dialog} open=${open} title="New label" onClose=${() => setOpen(false)} testid="label-dialog">
      ${open && html`<${CreateDefinition} scope=${scope} onCancel=${() => setOpen(false)} onCreated=${() => { setOpen(false); setReload((n) => n + 1); }} />`}
    <//>
  </div>`;
}

// definitionsFor lists the Definitions a node may carry: the platform's,
// its Domain's and its Project's (first 200 of each), applicable to nodes.
async function definitionsFor(node) {
  const scopes = ['platform', `domain:${node.domain_id}`, `project:${node.project_id}`];
  const pages = await Promise.all(scopes.map((scope) => list('/v1/label-definitions', { scope, limit: 200 }).catch(() => ({ items: [] }))));
  return pages.flatMap((p) => p.items).filter((d) => !d.applicable_kinds?.length || d.applicable_kinds.includes('node'));
}

function AssignLabel({ node, defs, onDone }) {
  const [def, setDef] = useState(defs[0]?.id || '');
  const d = defs.find((x) => x.id === def);
  const submit = async (v) => {
    await put(`/v1/objects/node/${encodeURIComponent(node.id)}/labels`, { definition_id: def, value: v.value ?? '' });
    toast(`${d.qualified_key}=${v.value} set`, 'success');
    onDone();
  };
  const enumVals = d?.value_schema?.kind === 'enum' ? d.value_schema.values || [] : null;
  return html`<div class="stack">
    <label class="filter">Label
      <select value=${def} onChange=${(e) => setDef(e.target.value)} data-testid="assign-definition">
        ${defs.map((x) => html`<option value=${x.id}>${x.qualified_key}</option>`)}
      </select></label>
    <${Form} key=${def} initial=${{ value: enumVals ? enumVals[0] : '' }} onSubmit=${submit} submitLabel="Assign" testid="assign-form">
      ${enumVals ? html`<${Field} name="value" label="Value" type="select" options=${enumVals} />` : html`<${Field} name="value" label="Value" required />`}
    <//>
  </div>`;
}

// NodeLabels shows a node's label assignments with unassign buttons and a
// form to assign one.
export function NodeLabels({ node }) {
  const path = `/v1/objects/node/${encodeURIComponent(node.id)}/labels`;
  const assigned = useLoad(() => get(path), [node.id]);
  const defs = useLoad(() => definitionsFor(node), [node.id]);
  const unassign = async (a) => {
    try {
      await del(path + `?qualified_key=${encodeURIComponent(a.qualified_key)}`);
      toast(`${a.qualified_key} removed`, 'success');
      assigned.reload();
    } catch (e) { toast(e.detail || e.message, 'danger'); }
  };
  const items = assigned.data?.items || [];
  return html`<div class="stack" data-testid="node-labels">
    <${ErrorBox} error=${assigned.error} />
    ${items.length === 0 && !assigned.loading && html`<p class="muted" data-testid="node-labels-none">No labels assigned.</p>`}
    ${items.length > 0 && html`<ul class="row" data-testid="node-label-list" style=${{ listStyle: 'none', padding: 0, margin: 0 }}>${items.map((a) => html`<li class="row" data-testid="node-label" data-key=${a.qualified_key}>
      <span class="badge badge-info"><span class="mono">${a.qualified_key}=${a.value}</span></span>
      <${Button} size="sm" variant="ghost" aria-label=${`Remove ${a.qualified_key}`} onClick=${() => unassign(a)} data-testid="node-label-remove">✕<//></li>`)}</ul>`}
    ${defs.data && defs.data.length > 0 && html`<${AssignLabel} node=${node} defs=${defs.data} onDone=${assigned.reload} />`}
    ${defs.data && defs.data.length === 0 && html`<p class="muted">No label applies to nodes yet: <a href=${`#/labels?scope=domain:${node.domain_id}`} data-testid="node-labels-define">define one</a>.</p>`}
  </div>`;
}

export const routes = [
  { path: '#/labels', title: 'Labels', nav: 'Labels', component: LabelsPage },
];
