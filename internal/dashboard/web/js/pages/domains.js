// Domains: list (cursor-paged), create, detail.
import { html, useState, useEffect, PageHeader, DataTable, Button, Dialog, Form, Field, KV, Card, Spinner, ErrorBox, Short, fmtTime, useLoad, toast } from '../ui.js';
import { get, post } from '../api.js';
import { navigate, href } from '../router.js';
import { RetentionCard } from '../widgets/retention.js';

function Home() {
  useEffect(() => navigate('#/domains'), []);
  return html`<${Spinner} />`;
}

function CreateDomain({ onCreated, onCancel }) {
  const submit = async (v) => {
    const d = await post('/v1/domains', { name: v.name, slug: v.slug, mesh_cidr: v.mesh_cidr, description: v.description || undefined });
    toast(`Domain ${d.name} created`, 'success');
    onCreated(d);
  };
  return html`<${Form} onSubmit=${submit} onCancel=${onCancel} submitLabel="Create Domain" testid="domain-form">
    <${Field} name="name" label="Name" required autofocus />
    <${Field} name="slug" label="Slug" required hint="Lower-case letters, digits and dashes; cannot change later." />
    <${Field} name="mesh_cidr" label="Mesh CIDR" required placeholder="100.80.0.0/16" hint="The Domain's mesh address range; it must not overlap another Domain's." />
    <${Field} name="description" label="Description" type="textarea" />
  <//>`;
}

function DomainsPage() {
  const [open, setOpen] = useState(false);
  const [reload, setReload] = useState(0);
  return html`<div>
    <${PageHeader} title="Domains"><${Button} variant="primary" onClick=${() => setOpen(true)} data-testid="domain-create">New Domain<//><//>
    <${DataTable} path="/v1/domains" testid="domains" reload=${reload} caption="Domains you can see"
      onRow=${(d) => navigate(`#/domains/${d.id}`)}
      columns=${[
        { key: 'name', label: 'Name', render: (d) => html`<a href=${`#/domains/${d.id}`} data-testid="domain-link">${d.name}</a>` },
        { key: 'slug', label: 'Slug' },
        { key: 'mesh_cidr', label: 'Mesh CIDR', render: (d) => html`<span class="mono">${d.mesh_cidr}</span>` },
        { key: 'id', label: 'ID', render: (d) => html`<${Short} value=${d.id} />` },
        { key: 'created_at', label: 'Created', render: (d) => fmtTime(d.created_at) },
      ]} />
    <${Dialog} open=${open} title="New Domain" onClose=${() => setOpen(false)} testid="domain-dialog">
      <${CreateDomain} onCancel=${() => setOpen(false)} onCreated=${(d) => { setOpen(false); setReload((n) => n + 1); navigate(`#/domains/${d.id}`); }} />
    <//>
  </div>`;
}

function DomainPage({ params }) {
  const { data: d, error, loading } = useLoad(() => get(`/v1/domains/${encodeURIComponent(params.id)}`), [params.id]);
  if (loading) return html`<${Spinner} />`;
  if (error) return html`<${PageHeader} title="Domain" /><${ErrorBox} error=${error} />`;
  return html`<div data-testid="domain-detail" data-id=${d.id}>
    <${PageHeader} title=${d.name}>
      <a class="btn" href=${href('#/projects', { domain_id: d.id })} data-testid="domain-projects">Projects</a>
      <a class="btn" href=${`#/domains/${d.id}/audit`} data-testid="domain-audit">Audit</a>
      <a class="btn" href=${href('#/metrics', { domain_id: d.id })} data-testid="domain-metrics">Metrics</a>
      <a class="btn" href=${href('#/logs', { domain_id: d.id })} data-testid="domain-logs">Logs</a>
      <a class="btn" href=${href('#/alerts', { domain_id: d.id })} data-testid="domain-alerts">Alert rules</a>
      <a class="btn" href=${href('#/incidents', { domain_id: d.id })} data-testid="domain-incidents">Incidents</a>
    <//>
    <${Card}>
      <${KV} testid="domain-kv" items=${[
        ['ID', html`<span class="mono" data-testid="domain-id">${d.id}</span>`],
        ['Slug', d.slug],
        ['Mesh CIDR', html`<span class="mono">${d.mesh_cidr}</span>`],
        ['Heartbeat', d.reachability ? `every ${d.reachability.heartbeat_interval}, stale after ${d.reachability.stale_after}, unreachable after ${d.reachability.unreachable_after}` : '—'],
        ['Description', d.description || '—'],
        ['Region', d.region || '—'],
        ['Created', fmtTime(d.created_at)],
        ['Updated', fmtTime(d.updated_at)],
      ]} />
    <//>
    <${RetentionCard} domainID=${d.id} />
  </div>`;
}

export const routes = [
  { path: '#/', title: 'Home', component: Home },
  { path: '#/domains', title: 'Domains', nav: 'Domains', component: DomainsPage },
  { path: '#/domains/{id}', title: 'Domain', component: DomainPage, navParent: '#/domains' },
];
