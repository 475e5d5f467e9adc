// Resources of a Project: list, adopt (create), detail.
import { html, useState, PageHeader, DataTable, Button, Dialog, Form, Field, KV, Card, Spinner, ErrorBox, StatusBadge, Short, fmtTime, useLoad, toast } from '../ui.js';
import { get, post } from '../api.js';
import { navigate } from '../router.js';

function AdoptResource({ projectID, onCreated, onCancel }) {
  const submit = async (v) => {
    const r = await post(`/v1/projects/${encodeURIComponent(projectID)}/resources`, {
      origin: 'adopted', kind: v.kind, external_ref: v.external_ref || undefined,
    });
    toast(`Resource ${r.kind} adopted`, 'success');
    onCreated(r);
  };
  return html`<${Form} onSubmit=${submit} onCancel=${onCancel} submitLabel="Adopt Resource" testid="resource-form">
    <${Field} name="kind" label="Kind" required autofocus hint="What it is, e.g. vm, cluster, bucket." />
    <${Field} name="external_ref" label="External reference" hint="Its id at the provider, e.g. an instance id." />
  <//>`;
}

function ResourcesPage({ params }) {
  const project = useLoad(() => get(`/v1/projects/${encodeURIComponent(params.id)}`), [params.id]);
  const [open, setOpen] = useState(false);
  const [reload, setReload] = useState(0);
  return html`<div>
    <${PageHeader} title=${project.data ? `Resources of ${project.data.name}` : 'Resources'}>
      <a class="btn" href=${`#/projects/${params.id}`}>Project</a>
      <${Button} variant="primary" onClick=${() => setOpen(true)} data-testid="resource-create">Adopt Resource<//>
    <//>
    <${ErrorBox} error=${project.error} />
    <${DataTable} path=${`/v1/projects/${encodeURIComponent(params.id)}/resources`} testid="resources" reload=${reload}
      onRow=${(r) => navigate(`#/resources/${r.id}`)}
      columns=${[
        { key: 'kind', label: 'Kind', render: (r) => html`<a href=${`#/resources/${r.id}`} data-testid="resource-link">${r.kind}</a>` },
        { key: 'origin', label: 'Origin', render: (r) => html`<${StatusBadge} status=${r.origin} tone="info" />` },
        { key: 'external_ref', label: 'External reference', render: (r) => html`<span class="mono">${r.external_ref || '—'}</span>` },
        { key: 'id', label: 'ID', render: (r) => html`<${Short} value=${r.id} />` },
        { key: 'created_at', label: 'Created', render: (r) => fmtTime(r.created_at) },
      ]} />
    <${Dialog} open=${open} title="Adopt a Resource" onClose=${() => setOpen(false)} testid="resource-dialog">
      ${open && html`<${AdoptResource} projectID=${params.id} onCancel=${() => setOpen(false)}
        onCreated=${() => { setOpen(false); setReload((n) => n + 1); }} />`}
    <//>
  </div>`;
}

function ResourcePage({ params }) {
  const { data: r, error, loading } = useLoad(() => get(`/v1/resources/${encodeURIComponent(params.id)}`), [params.id]);
  if (loading) return html`<${Spinner} />`;
  if (error) return html`<${PageHeader} title="Resource" /><${ErrorBox} error=${error} />`;
  return html`<div data-testid="resource-detail" data-id=${r.id}>
    <${PageHeader} title=${`${r.kind} ${r.external_ref || ''}`}>
      <a class="btn" href=${`#/projects/${r.project_id}/resources`}>All Resources of the Project</a>
    <//>
    <${Card}><${KV} testid="resource-kv" items=${[
      ['ID', html`<span class="mono">${r.id}</span>`],
      ['Kind', r.kind],
      ['Origin', r.origin],
      ['External reference', r.external_ref || '—'],
      ['Project', html`<a href=${`#/projects/${r.project_id}`} class="mono">${r.project_id}</a>`],
      ['Domain', html`<a href=${`#/domains/${r.domain_id}`} class="mono">${r.domain_id}</a>`],
      ['Created', fmtTime(r.created_at)],
    ]} /><//>
  </div>`;
}

export const routes = [
  { path: '#/projects/{id}/resources', title: 'Resources', component: ResourcesPage, navParent: '#/projects' },
  { path: '#/resources/{id}', title: 'Resource', component: ResourcePage, navParent: '#/projects' },
];
