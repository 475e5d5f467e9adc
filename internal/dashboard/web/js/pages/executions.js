// Executions of a Project (docs/actions.md): list, dispatch form with a
// dry-run preview (executions:preview: the targets and the skipped nodes,
// nothing runs), detail with per-target status updating live over the
// execution's event stream (SSE), cancel.
import { html, useState, useEffect, useId, PageHeader, DataTable, Button, KV, Card, Spinner, ErrorBox, StatusBadge, CodeBlock, Short, fmtTime, useLoad, toast } from '../ui.js';
import { get, post, stream } from '../api.js';
import { navigate, href } from '../router.js';
import { ProjectPick, useProjects } from '../widgets/projectpick.js';

const ep = (pid) => `/v1/projects/${encodeURIComponent(pid)}/executions`;
const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'timeout']);
const STATUSES = ['', 'pending', 'ack', 'started', 'succeeded', 'failed', 'cancelled', 'timeout'];

function ExecutionsPage({ query }) {
  const projects = useProjects();
  const pid = query.project_id || '';
  return html`<div>
    <${PageHeader} title="Executions">
      <${ProjectPick} route="#/executions" projectID=${pid} projects=${projects.data} />
      ${pid && html`<a class="btn btn-primary" href=${`#/projects/${pid}/executions/new`} data-testid="execution-create">Run an action</a>`}
    <//>
    <${ErrorBox} error=${projects.error} />
    ${!pid ? html`<p class="muted" data-testid="executions-choose">Choose a Project to see its executions.</p>`
      : html`<${DataTable} path=${ep(pid)} testid="executions"
        filters=${[{ name: 'status', label: 'Status', type: 'select', options: STATUSES }, { name: 'action_name', label: 'Action', placeholder: 'e.g. reboot' }]}
        onRow=${(x) => navigate(`#/projects/${pid}/executions/${x.id}`)}
        columns=${[
          { key: 'action', label: 'Action', render: (x) => html`<a href=${`#/projects/${pid}/executions/${x.id}`} data-testid="execution-link">${x.action}</a>` },
          { key: 'type', label: 'Type' },
          { key: 'status', label: 'Status', render: (x) => html`<${StatusBadge} status=${x.status} />` },
          { key: 'selector', label: 'Selector', render: (x) => html`<span class="mono">${x.selector || '—'}</span>` },
          { key: 'created_at', label: 'Created', render: (x) => fmtTime(x.created_at) },
        ]} />`}
  </div>`;
}

// In is a labelled input of the dispatch form (its own state: the form
// has two submit actions, preview and dispatch).
function In({ label, hint, error, children }) {
  const id = useId();
  return html`<div class="field">
    <label for=${id}>${label}</label>
    ${children(id, { 'aria-describedby': hint ? `${id}-hint` : undefined, 'aria-invalid': error ? 'true' : undefined })}
    ${hint && html`<span class="hint" id=${`${id}-hint`}>${hint}</span>`}
    ${error && html`<span class="field-error">${error}</span>`}
  </div>`;
}

function int(v) { return v === '' || v === undefined ? undefined : Number(v); }

function DispatchPage({ params }) {
  const { pid } = params;
  const [v, setV] = useState({ action: '', type: 'builtin', target: 'selector', ref: '', parameters: '', timeout_seconds: '', max_in_flight: '', batch_size: '', stop_after_failures: '' });
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState('');
  const [preview, setPreview] = useState(null);
  const set = (k) => (e) => setV((o) => ({ ...o, [k]: e.target.value }));
  const body = () => {
    let parameters;
    if (v.parameters.trim()) {
      try { parameters = JSON.parse(v.parameters); } catch (e) {
        throw Object.assign(new Error(`Parameters: ${e.message}`), { errors: [{ location: 'body.parameters', message: 'not JSON' }] });
      }
    }
    const b = { action: v.action, type: v.type, parameters, timeout_seconds: int(v.timeout_seconds), max_in_flight: int(v.max_in_flight),
      batch_size: int(v.batch_size), stop_after_failures: int(v.stop_after_failures) };
    if (v.target === 'node') b.node_id = v.ref.trim(); else if (v.target === 'nodes') b.node_ids = v.ref.split(/[\s,]+/).filter(Boolean); else b.selector = v.ref;
    return b;
  };
  const go = (what) => async (e) => {
    e && e.preventDefault();
    setError(null);
    setBusy(what);
    try {
      if (what === 'preview') {
        setPreview(await post(`${ep(pid)}:preview`, body()));
      } else {
        const x = await post(`${ep(pid)}:dispatch`, body());
        toast(`Execution of ${x.action} dispatched to ${x.targets.length} node(s)`, 'success');
        navigate(`#/projects/${pid}/executions/${x.id}`);
      }
    } catch (x) { setError(x); } finally { setBusy(''); }
  };
  const errs = {};
  for (const e of error?.errors || []) errs[String(e.location || '').replace(/^body\./, '')] ||= e.message;
  return html`<div>
    <${PageHeader} title="Run an action">
      <a class="btn" href=${href('#/executions', { project_id: pid })}>All executions</a>
    <//>
    <${Card}><form class="form" onSubmit=${go('dispatch')} data-testid="dispatch-form" novalidate>
      <${In} label="Action *" error=${errs.action} hint="A built-in (e.g. reboot, restart-plexd) or a hook the nodes declare.">${(id, a) => html`<input id=${id} ...${a} value=${v.action} onInput=${set('action')} required data-testid="dispatch-action" />`}<//>
      <${In} label="Type">${(id, a) => html`<select id=${id} ...${a} value=${v.type} onChange=${set('type')} data-testid="dispatch-type"><option value="builtin">builtin</option><option value="hook">hook</option></select>`}<//>
      <${In} label="Targets">${(id, a) => html`<select id=${id} ...${a} value=${v.target} onChange=${set('target')} data-testid="dispatch-target">
        <option value="selector">Nodes a label selector matches</option><option value="node">One node (id)</option><option value="nodes">A list of node ids</option></select>`}<//>
      <${In} label=${v.target === 'selector' ? 'Selector' : 'Node id(s)'} error=${errs.selector || errs.node_id || errs.node_ids}>${(id, a) => html`<input id=${id} ...${a} value=${v.ref} onInput=${set('ref')} placeholder=${v.target === 'selector' ? 'role=web' : ''} data-testid="dispatch-ref" />`}<//>
      <${In} label="Parameters (JSON)" error=${errs.parameters}>${(id, a) => html`<textarea id=${id} ...${a} rows="3" value=${v.parameters} onInput=${set('parameters')} placeholder='{"key": "value"}' data-testid="dispatch-parameters"></textarea>`}<//>
      <div class="row">
        <${In} label="Timeout (s)" error=${errs.timeout_seconds}>${(id, a) => html`<input id=${id} ...${a} type="number" min="1" max="600" value=${v.timeout_seconds} onInput=${set('timeout_seconds')} data-testid="dispatch-timeout" />`}<//>
        <${In} label="Max in flight" error=${errs.max_in_flight}>${(id, a) => html`<input id=${id} ...${a} type="number" min="0" value=${v.max_in_flight} onInput=${set('max_in_flight')} data-testid="dispatch-max-in-flight" />`}<//>
        <${In} label="Batch size" error=${errs.batch_size}>${(id, a) => html`<input id=${id} ...${a} type="number" min="0" value=${v.batch_size} onInput=${set('batch_size')} data-testid="dispatch-batch-size" />`}<//>
        <${In} label="Stop after failures" error=${errs.stop_after_failures}>${(id, a) => html`<input id=${id} ...${a} type="number" min="0" value=${v.stop_after_failures} onInput=${set('stop_after_failures')} data-testid="dispatch-stop-after" />`}<//>
      </div>
      ${error && html`<div class="form-error" role="alert" data-testid="dispatch-error" data-code=${error.code || ''}>${error.detail || error.message}${error.code && html` <span class="code">(${error.code})</span>`}</div>`}
      <div class="form-actions">
        <${Button} onClick=${go('preview')} disabled=${!!busy} data-testid="dispatch-preview">${busy === 'preview' && html`<${Spinner} />`} Dry-run preview<//>
        <${Button} type="submit" variant="primary" disabled=${!!busy} data-testid="dispatch-submit">${busy === 'dispatch' && html`<${Spinner} />`} Dispatch<//>
      </div>
    </form><//>
    ${preview && html`<${Card} title="Dry-run: nothing ran" testid="dispatch-preview-result">
      <p><strong data-testid="preview-target-count">${preview.targets.length}</strong> target(s), <strong data-testid="preview-skip-count">${preview.skipped.length}</strong> skipped.</p>
      <div class="table-wrap"><table class="data"><caption>Targets and skips</caption>
        <thead><tr><th scope="col">Node</th><th scope="col">Outcome</th><th scope="col">Why</th></tr></thead>
        <tbody>
          ${preview.targets.map((id) => html`<tr data-testid="preview-target" data-id=${id}><td class="mono">${id}</td><td><${StatusBadge} status="target" tone="success" /></td><td></td></tr>`)}
          ${preview.skipped.map((s) => html`<tr data-testid="preview-skipped" data-id=${s.node_id} data-reason=${s.reason}><td class="mono">${s.node_id}</td>
            <td><${StatusBadge} status="skipped" tone="warning" /></td><td><span class="mono">${s.reason}</span>${s.detail && ` — ${s.detail}`}</td></tr>`)}
        </tbody></table></div>
    <//>`}
  </div>`;
}

function ExecutionPage({ params }) {
  const { pid, id } = params;
  const path = `${ep(pid)}/${encodeURIComponent(id)}`;
  const { data, error, loading, reload } = useLoad(() => get(path), [pid, id]);
  const [x, setX] = useState(null);
  const [live, setLive] = useState(false);
  useEffect(() => { if (data) setX(data); }, [data]);
  // The event stream: target changes and the aggregate status; it ends
  // (and is closed here, so EventSource does not reconnect) once final.
  useEffect(() => {
    if (!data || FINAL.has(data.status)) return undefined;
    let close = () => {};
    close = stream(`${path}/events`, {
      open: () => setLive(true),
      target: (t) => setX((o) => o && ({ ...o, targets: o.targets.some((u) => u.node_id === t.node_id) ? o.targets.map((u) => (u.node_id === t.node_id ? { ...u, ...t } : u)) : [...o.targets, t] })),
      execution: (e) => {
        setX((o) => o && ({ ...o, status: e.status, updated_at: e.updated_at }));
        if (FINAL.has(e.status)) { close(); setLive(false); reload(); }
      },
      error: () => setLive(false),
    });
    return () => close();
  }, [data?.id]);
  const cancel = async () => {
    try { await post(`${path}/cancel`); toast('Cancel requested', 'success'); reload(); } catch (e) { toast(e.detail || e.message, 'danger'); }
  };
  if (loading && !x) return html`<${Spinner} />`;
  if (error && !x) return html`<${PageHeader} title="Execution" /><${ErrorBox} error=${error} />`;
  if (!x) return html`<${Spinner} />`;
  const counts = {};
  for (const t of x.targets) counts[t.status] = (counts[t.status] || 0) + 1;
  return html`<div data-testid="execution-detail" data-id=${x.id} data-status=${x.status}>
    <${PageHeader} title=${`${x.action} (${x.type})`}>
      <a class="btn" href=${href('#/executions', { project_id: pid })}>All executions</a>
      ${!FINAL.has(x.status) && html`<${Button} variant="danger" onClick=${cancel} data-testid="execution-cancel">Cancel<//>`}
    <//>
    <${Card}><${KV} testid="execution-kv" items=${[
      ['Status', html`<${StatusBadge} status=${x.status} testid="execution-status" />${live ? html` <span class="muted" data-testid="execution-live">live</span>` : ''}`],
      ['Targets', Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(', ') || '0'],
      ['Selector', html`<span class="mono">${x.selector || '—'}</span>`],
      ['Max in flight / batch', `${x.max_in_flight || '∞'} / ${x.batch_size || '—'}`],
      ['Created', fmtTime(x.created_at)],
      ['Updated', fmtTime(x.updated_at)],
    ]} /><//>
    <div class="table-wrap"><table class="data" data-testid="execution-targets"><caption>Targets</caption>
      <thead><tr><th scope="col">Node</th><th scope="col">Status</th><th scope="col">Exit</th><th scope="col">Duration</th><th scope="col">Detail</th></tr></thead>
      <tbody>${x.targets.map((t) => html`<tr data-testid="execution-target" data-id=${t.node_id} data-status=${t.status}>
        <td><${Short} value=${t.node_id} /></td><td><${StatusBadge} status=${t.status} /></td>
        <td>${t.exit_code ?? '—'}</td><td>${t.duration_ms != null ? `${t.duration_ms} ms` : '—'}</td>
        <td>${t.detail || ''}${t.stdout && html`<${CodeBlock} title="stdout" code=${t.stdout} wrap />`}${t.stderr && html`<${CodeBlock} title="stderr" code=${t.stderr} wrap />`}</td></tr>`)}</tbody>
    </table></div>
    ${x.skipped?.length > 0 && html`<${Card} title="Skipped">
      <ul>${x.skipped.map((s) => html`<li data-testid="execution-skipped"><${Short} value=${s.node_id} />: <span class="mono">${s.reason}</span>${s.detail && ` — ${s.detail}`}</li>`)}</ul><//>`}
  </div>`;
}

export const routes = [
  { path: '#/executions', title: 'Executions', nav: 'Executions', component: ExecutionsPage },
  { path: '#/projects/{pid}/executions/new', title: 'Run an action', component: DispatchPage, navParent: '#/executions' },
  { path: '#/projects/{pid}/executions/{id}', title: 'Execution', component: ExecutionPage, navParent: '#/executions' },
];
