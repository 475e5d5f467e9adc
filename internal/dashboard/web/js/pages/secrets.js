// Secrets of a Project (docs/secrets.md): write-only put (the value goes
// in and is never shown back: no operation here reads it), versions,
// bindings to nodes or selectors, delete.
import { html, useState, PageHeader, DataTable, Button, Dialog, Form, Field, KV, Card, Spinner, ErrorBox, Short, StatusBadge, fmtTime, useLoad, toast } from '../ui.js';
import { get, put, post, del } from '../api.js';
import { navigate, href } from '../router.js';
import { ProjectPick, useProjects } from '../widgets/projectpick.js';

const sp = (pid) => `/v1/projects/${encodeURIComponent(pid)}/secrets`;

// b64 encodes a string's UTF-8 bytes as standard base64.
function b64(s) {
  const bytes = new TextEncoder().encode(s);
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

// PutSecret writes a new version. The value field is a password input and
// the form forgets the value once it is sent.
function PutSecret({ pid, name, onDone, onCancel }) {
  const submit = async (v) => {
    const n = name || v.name;
    if (!v.value) throw Object.assign(new Error('A value is required.'), { errors: [{ location: 'body.value', message: 'a value is required' }] });
    const r = await put(`${sp(pid)}/${encodeURIComponent(n)}`, { value: b64(v.value) });
    toast(`Secret ${r.name} is at version ${r.current_version}`, 'success');
    onDone(r);
  };
  return html`<${Form} onSubmit=${submit} onCancel=${onCancel} submitLabel=${name ? 'Write new version' : 'Put secret'} testid="secret-form">
    ${!name && html`<${Field} name="name" label="Name" required autofocus hint="Lower-case letters, digits, _ and -; starts with a letter." />`}
    <${Field} name="value" label="Value" type="password" required hint="Write-only: it is never shown again (reveal needs its own permission and step-up)." />
  <//>`;
}

function SecretsPage({ query }) {
  const projects = useProjects();
  const pid = query.project_id || '';
  const [open, setOpen] = useState(false);
  const [reload, setReload] = useState(0);
  return html`<div>
    <${PageHeader} title="Secrets">
      <${ProjectPick} route="#/secrets" projectID=${pid} projects=${projects.data} />
      ${pid && html`<${Button} variant="primary" onClick=${() => setOpen(true)} data-testid="secret-create">Put secret<//>`}
    <//>
    <${ErrorBox} error=${projects.error} />
    ${!pid ? html`<p class="muted" data-testid="secrets-choose">Choose a Project to see its secrets.</p>`
      : html`<${DataTable} path=${sp(pid)} testid="secrets" reload=${reload} rowKey="name"
        onRow=${(s) => navigate(`#/projects/${pid}/secrets/${encodeURIComponent(s.name)}`)}
        columns=${[
          { key: 'name', label: 'Name', render: (s) => html`<a href=${`#/projects/${pid}/secrets/${encodeURIComponent(s.name)}`} class="mono" data-testid="secret-link">${s.name}</a>` },
          { key: 'current_version', label: 'Version', render: (s) => html`<span data-testid="secret-version">${s.current_version}</span>` },
        ]} />`}
    <${Dialog} open=${open} title="Put a secret" onClose=${() => setOpen(false)} testid="secret-dialog">
      ${open && html`<${PutSecret} pid=${pid} onCancel=${() => setOpen(false)}
        onDone=${(r) => { setOpen(false); setReload((n) => n + 1); navigate(`#/projects/${pid}/secrets/${encodeURIComponent(r.name)}`); }} />`}
    <//>
  </div>`;
}

function Bind({ pid, name, onDone, onCancel }) {
  const submit = async (v) => {
    const body = v.target === 'node' ? { node_id: v.ref } : { selector: v.ref };
    const b = await post(`${sp(pid)}/${encodeURIComponent(name)}/bindings`, body);
    toast(`Bound: ${b.matched_nodes} node(s) now receive ${name}`, 'success');
    onDone(b);
  };
  return html`<${Form} initial=${{ target: 'selector' }} onSubmit=${submit} onCancel=${onCancel} submitLabel="Bind" testid="binding-form">
    <${Field} name="target" label="Deliver to" type="select" options=${[['selector', 'Nodes a label selector matches'], ['node', 'One node (id)']]} />
    <${Field} name="ref" label="Selector or node id" required autofocus placeholder="role=db" />
  <//>`;
}

function SecretPage({ params }) {
  const { pid, name } = params;
  const path = `${sp(pid)}/${encodeURIComponent(name)}`;
  const { data: s, error, loading, reload } = useLoad(() => get(path), [pid, name]);
  const [dialog, setDialog] = useState('');
  const [n, setN] = useState(0);
  const bump = () => { reload(); setN((x) => x + 1); setDialog(''); };
  if (loading && !s) return html`<${Spinner} />`;
  if (error) return html`<${PageHeader} title="Secret" /><${ErrorBox} error=${error} />`;
  const unbind = async (b) => {
    try { await del(`${path}/bindings/${b.id}`); toast('Binding removed', 'success'); bump(); } catch (e) { toast(e.detail || e.message, 'danger'); }
  };
  const remove = async () => {
    try { await del(path); toast(`Secret ${name} deleted`, 'success'); navigate('#/secrets', { project_id: pid }); } catch (e) { toast(e.detail || e.message, 'danger'); setDialog(''); }
  };
  return html`<div data-testid="secret-detail" data-name=${s.name}>
    <${PageHeader} title=${s.name}>
      <a class="btn" href=${href('#/secrets', { project_id: pid })} data-testid="secret-back">All secrets</a>
      <${Button} variant="primary" onClick=${() => setDialog('put')} data-testid="secret-put">New version<//>
      <${Button} onClick=${() => setDialog('bind')} data-testid="secret-bind">Bind<//>
      <${Button} variant="danger" onClick=${() => setDialog('delete')} data-testid="secret-delete">Delete<//>
    <//>
    <${Card}><${KV} testid="secret-kv" items=${[
      ['Name', html`<span class="mono">${s.name}</span>`],
      ['Current version', html`<span data-testid="secret-current-version">${s.current_version}</span>`],
      ['Value', html`<span class="muted" data-testid="secret-value-hidden">write-only — never shown</span>`],
      ['Bindings', String(s.bindings)],
      ['Created', fmtTime(s.created_at)],
      ['Updated', fmtTime(s.updated_at)],
    ]} /><//>
    <${Card} title="Versions">
      <${DataTable} path=${`${path}/versions`} testid="secret-versions" reload=${n} rowKey="version"
        columns=${[
          { key: 'version', label: 'Version', render: (v) => html`<span data-testid="secret-versions-version">${v.version}</span>` },
          { key: 'created_at', label: 'Written', render: (v) => fmtTime(v.created_at) },
          { key: 'destroyed_at', label: 'State', render: (v) => html`<${StatusBadge} status=${v.destroyed_at ? 'destroyed' : 'kept'} tone=${v.destroyed_at ? 'neutral' : 'success'} />` },
        ]} />
    <//>
    <${Card} title="Bindings">
      <${DataTable} path=${`${path}/bindings`} testid="secret-bindings" reload=${n}
        columns=${[
          { key: 'target', label: 'Delivers to', render: (b) => (b.node_id ? html`node <${Short} value=${b.node_id} />` : html`<span class="mono">${b.selector}</span>`) },
          { key: 'matched_nodes', label: 'Nodes now', render: (b) => String(b.matched_nodes) },
          { key: 'created_by', label: 'By', render: (b) => html`<span class="mono">${b.created_by}</span>` },
          { key: 'created_at', label: 'Created', render: (b) => fmtTime(b.created_at) },
          { key: 'unbind', label: '', render: (b) => html`<${Button} size="sm" onClick=${() => unbind(b)} data-testid="secret-unbind" aria-label=${`Unbind ${b.selector || b.node_id}`}>Unbind<//>` },
        ]} />
    <//>
    <${Dialog} open=${dialog === 'put'} title=${`New version of ${name}`} onClose=${() => setDialog('')} testid="secret-put-dialog">
      ${dialog === 'put' && html`<${PutSecret} pid=${pid} name=${name} onCancel=${() => setDialog('')} onDone=${bump} />`}
    <//>
    <${Dialog} open=${dialog === 'bind'} title=${`Bind ${name}`} onClose=${() => setDialog('')} testid="secret-bind-dialog">
      ${dialog === 'bind' && html`<${Bind} pid=${pid} name=${name} onCancel=${() => setDialog('')} onDone=${bump} />`}
    <//>
    <${Dialog} open=${dialog === 'delete'} title=${`Delete ${name}?`} onClose=${() => setDialog('')} testid="secret-delete-dialog">
      <p>Every version and binding is destroyed; nodes lose the value at their next sync.</p>
      <div class="form-actions"><${Button} onClick=${() => setDialog('')}>Cancel<//>
        <${Button} variant="danger" onClick=${remove} data-testid="secret-delete-confirm">Delete<//></div>
    <//>
  </div>`;
}

export const routes = [
  { path: '#/secrets', title: 'Secrets', nav: 'Secrets', component: SecretsPage },
  { path: '#/projects/{pid}/secrets/{name}', title: 'Secret', component: SecretPage, navParent: '#/secrets' },
];
