// Projects: list (filtered by Domain), create, detail.
import { html, useState, PageHeader, DataTable, Button, Dialog, Form, Field, KV, Card, Spinner, ErrorBox, Short, fmtTime, useLoad, toast } from '../ui.js';
import { get, post, list } from '../api.js';
import { navigate, href } from '../router.js';

// useDomains loads the first page of the Domains the user sees, for pickers.
export function useDomains() {
  return useLoad(() => list('/v1/domains', { limit: 200 }).then((p) => p.items), []);
}

function CreateProject({ domains, domainID, onCreated, onCancel }) {
  const submit = async (v) => {
    const p = await post('/v1/projects', {
      domain_id: v.domain_id, name: v.name, slug: v.slug,
      description: v.description || undefined, sub_range_cidr: v.sub_range_cidr || undefined,
    });
    toast(`Project ${p.name} created`, 'success');
    onCreated(p);
  };
  const options = domains.map((d) => [d.id, `${d.name} (${d.slug})`]);
  return html`<${Form} initial=${{ domain_id: domainID || options[0]?.[0] || '' }} onSubmit=${submit} onCancel=${onCancel} submitLabel="Create Project" testid="project-form">
    <${Field} name="domain_id" label="Domain" type="select" options=${options} required />
    <${Field} name="name" label="Name" required autofocus />
    <${Field} name="slug" label="Slug" required hint="Lower-case letters, digits and dashes; cannot change later." />
    <${Field} name="sub_range_cidr" label="Sub-range CIDR" hint="Optional: a part of the Domain's mesh range reserved for this Project." />
    <${Field} name="description" label="Description" type="textarea" />
  <//>`;
}

function ProjectsPage({ query }) {
  const domains = useDomains();
  const [open, setOpen] = useState(false);
  const [reload, setReload] = useState(0);
  const domainID = query.domain_id || '';
  const names = Object.fromEntries((domains.data || []).map((d) => [d.id, d.name]));
  const pick = (e) => navigate('#/projects', { domain_id: e.target.value });
  return html`<div>
    <${PageHeader} title="Projects">
      <label class="filter">Domain
        <select value=${domainID} onChange=${pick} data-testid="projects-domain">
          <option value="">All Domains</option>
          ${(domains.data || []).map((d) => html`<option value=${d.id}>${d.name}</option>`)}
        </select></label>
      <${Button} variant="primary" onClick=${() => setOpen(true)} disabled=${!domains.data?.length} data-testid="project-create">New Project<//>
    <//>
    <${DataTable} path="/v1/projects" params=${{ domain_id: domainID }} testid="projects" reload=${reload}
      onRow=${(p) => navigate(`#/projects/${p.id}`)}
      columns=${[
        { key: 'name', label: 'Name', render: (p) => html`<a href=${`#/projects/${p.id}`} data-testid="project-link">${p.name}</a>` },
        { key: 'slug', label: 'Slug' },
        { key: 'domain_id', label: 'Domain', render: (p) => names[p.domain_id] || html`<${Short} value=${p.domain_id} />` },
        { key: 'sub_range_cidr', label: 'Sub-range', render: (p) => html`<span class="mono">${p.sub_range_cidr || '—'}</span>` },
        { key: 'created_at', label: 'Created', render: (p) => fmtTime(p.created_at) },
      ]} />
    <${Dialog} open=${open} title="New Project" onClose=${() => setOpen(false)} testid="project-dialog">
      ${open && html`<${CreateProject} domains=${domains.data || []} domainID=${domainID} onCancel=${() => setOpen(false)}
        onCreated=${(p) => { setOpen(false); setReload((n) => n + 1); navigate(`#/projects/${p.id}`); }} />`}
    <//>
  </div>`;
}

function ProjectPage({ params }) {
  const { data: p, error, loading } = useLoad(() => get(`/v1/projects/${encodeURIComponent(params.id)}`), [params.id]);
  if (loading) return html`<${Spinner} />`;
  if (error) return html`<${PageHeader} title="Project" /><${ErrorBox} error=${error} />`;
  return html`<div data-testid="project-detail" data-id=${p.id}>
    <${PageHeader} title=${p.name}>
      <a class="btn" href=${`#/projects/${p.id}/resources`} data-testid="project-resources">Resources</a>
      <a class="btn" href=${`#/domains/${p.domain_id}`} data-testid="project-domain">Domain</a>
    <//>
    <${Card}>
      <${KV} testid="project-kv" items=${[
        ['ID', html`<span class="mono" data-testid="project-id">${p.id}</span>`],
        ['Slug', p.slug],
        ['Domain', html`<a href=${`#/domains/${p.domain_id}`} class="mono">${p.domain_id}</a>`],
        ['Sub-range CIDR', html`<span class="mono">${p.sub_range_cidr || '—'}</span>`],
        ['Description', p.description || '—'],
        ['Created', fmtTime(p.created_at)],
        ['Updated', fmtTime(p.updated_at)],
      ]} />
    <//>
    <p><a href=${href('#/projects', { domain_id: p.domain_id })}>All Projects of this Domain</a></p>
  </div>`;
}

export const routes = [
  { path: '#/projects', title: 'Projects', nav: 'Projects', component: ProjectsPage },
  { path: '#/projects/{id}', title: 'Project', component: ProjectPage, navParent: '#/projects' },
];
