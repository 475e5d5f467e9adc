// Service identities of a Domain: workloads that sign in with their own
// IdP credentials (client_credentials or a jwt-bearer assertion) and get a
// short-lived plexsphere token. List, create, rename, disable/enable,
// delete; the credentials panel shows how the workload exchanges them.
import { html, useState, PageHeader, DataTable, Button, Dialog, Form, Field, KV, Card, CodeBlock, Spinner, ErrorBox, StatusBadge, Short, fmtTime, useLoad, toast } from '../ui.js';
import { get, post, patch, del } from '../api.js';
import { navigate, href } from '../router.js';
import { useDomainList, pickDomain, DomainSelect, Confirm } from '../widgets/identity.js';

const kinds = [['client_credentials', 'client credentials (client id + secret at the IdP)'], ['jwt_bearer', 'JWT bearer assertion (federated workload)']];

function CreateServiceIdentity({ domainID, onCreated, onCancel }) {
  const bindings = useLoad(() => get('/v1/admin/idp', { domain_id: domainID }), [domainID]);
  if (bindings.loading) return html`<${Spinner} />`;
  const options = (Array.isArray(bindings.data) ? bindings.data : []).map((b) => [b.id, `${b.alias || b.issuer}${b.domain_id ? '' : ' (platform)'}`]);
  const submit = async (v) => {
    const s = await post(`/v1/domains/${encodeURIComponent(domainID)}/service-identities`, {
      display_name: v.display_name, idp_binding_id: v.idp_binding_id, federation_kind: v.federation_kind,
      client_id: v.client_id, subject: v.subject || undefined,
    });
    toast(`Service identity ${s.display_name} created`, 'success');
    onCreated(s);
  };
  return html`<${Form} initial=${{ idp_binding_id: options[0]?.[0] || '', federation_kind: 'client_credentials' }} onSubmit=${submit} onCancel=${onCancel}
      submitLabel="Create service identity" testid="service-identity-form">
    <${ErrorBox} error=${bindings.error} testid="service-identity-bindings-error" />
    <${Field} name="display_name" label="Name" required autofocus />
    <${Field} name="idp_binding_id" label="IdP binding" type="select" options=${options} required hint="The IdP that vouches for the workload." />
    <${Field} name="federation_kind" label="Credential kind" type="select" options=${kinds} />
    <${Field} name="client_id" label="IdP client ID" required />
    <${Field} name="subject" label="Subject" hint="jwt_bearer: the assertion's sub claim." />
  <//>`;
}

function ServiceIdentitiesPage({ query, user }) {
  const domains = useDomainList();
  const domainID = pickDomain(query, user, domains.data);
  const [open, setOpen] = useState(false);
  return html`<div>
    <${PageHeader} title="Service identities">
      <${DomainSelect} route="#/service-identities" query=${query} value=${domainID} domains=${domains.data} testid="service-identities-domain" />
      <${Button} variant="primary" onClick=${() => setOpen(true)} disabled=${!domainID} data-testid="service-identity-create">New service identity<//>
    <//>
    ${domainID && html`<${DataTable} path=${`/v1/domains/${encodeURIComponent(domainID)}/service-identities`} testid="service-identities" caption="Service identities of the Domain"
      onRow=${(s) => navigate(`#/domains/${domainID}/service-identities/${s.id}`)}
      columns=${[
        { key: 'display_name', label: 'Name', render: (s) => html`<a href=${`#/domains/${domainID}/service-identities/${s.id}`} data-testid="service-identity-link">${s.display_name}</a>` },
        { key: 'federation_kind', label: 'Credentials' },
        { key: 'client_id', label: 'Client ID', render: (s) => html`<span class="mono">${s.client_id}</span>` },
        { key: 'status', label: 'Status', render: (s) => html`<${StatusBadge} status=${s.disabled_at ? 'disabled' : 'active'} tone=${s.disabled_at ? 'danger' : 'success'} testid="service-identity-status" />` },
        { key: 'created_at', label: 'Created', render: (s) => fmtTime(s.created_at) },
      ]} />`}
    <${Dialog} open=${open} title="New service identity" onClose=${() => setOpen(false)} testid="service-identity-dialog">
      ${open && html`<${CreateServiceIdentity} domainID=${domainID} onCancel=${() => setOpen(false)}
        onCreated=${(s) => { setOpen(false); navigate(`#/domains/${domainID}/service-identities/${s.id}`); }} />`}
    <//>
  </div>`;
}

function tokenSnippet(s) {
  const body = s.federation_kind === 'jwt_bearer'
    ? { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', domain_id: s.domain_id, client_assertion: '<JWT from the IdP>' }
    : { grant_type: 'client_credentials', domain_id: s.domain_id, client_id: s.client_id, client_secret: '<secret held by the workload>' };
  return `curl -X POST ${location.origin}/v1/auth/service/token \\\n  -H 'Content-Type: application/json' \\\n  -d '${JSON.stringify(body)}'`;
}

function ServiceIdentityPage({ params, user }) {
  const path = `/v1/domains/${encodeURIComponent(params.domain)}/service-identities/${encodeURIComponent(params.id)}`;
  const s = useLoad(() => get(path), [path]);
  const [dialog, setDialog] = useState('');
  if (s.loading) return html`<${Spinner} />`;
  if (s.error) return html`<${PageHeader} title="Service identity" /><${ErrorBox} error=${s.error} />`;
  const si = s.data;
  const rename = async (v) => { await patch(path, { display_name: v.display_name }); toast('Renamed', 'success'); setDialog(''); s.reload(); };
  const toggle = async () => {
    try {
      await patch(path, { disabled: !si.disabled_at });
      toast(si.disabled_at ? 'Enabled' : 'Disabled: its tokens stop working', 'success');
      s.reload();
    } catch (e) {
      toast(`${e.detail || e.message}${e.code ? ` (${e.code})` : ''}`, 'danger');
    }
  };
  return html`<div data-testid="service-identity-detail" data-id=${si.id}>
    <${PageHeader} title=${si.display_name}>
      <${StatusBadge} status=${si.disabled_at ? 'disabled' : 'active'} tone=${si.disabled_at ? 'danger' : 'success'} testid="service-identity-state" />
      <${Button} onClick=${() => setDialog('rename')} data-testid="service-identity-rename">Rename<//>
      <${Button} onClick=${toggle} data-testid="service-identity-toggle">${si.disabled_at ? 'Enable' : 'Disable'}<//>
      <a class="btn" href=${href('#/tokens', { identity_ref: `service:${si.id}` })} data-testid="service-identity-tokens">API tokens</a>
      <${Button} variant="danger" onClick=${() => setDialog('delete')} data-testid="service-identity-delete">Delete<//>
    <//>
    <${Card}>
      <${KV} testid="service-identity-kv" items=${[
        ['ID', html`<span class="mono" data-testid="service-identity-id">${si.id}</span>`],
        ['Domain', html`<a href=${`#/domains/${si.domain_id}`} class="mono">${si.domain_id}</a>`],
        ['Grant as', html`<span class="mono">service_identity:${si.id}</span>`],
        ['Created', fmtTime(si.created_at)],
        ['Updated', fmtTime(si.updated_at)],
      ]} />
    <//>
    <${Card} title="Credentials" testid="service-identity-credentials">
      <${KV} testid="service-identity-cred" items=${[
        ['Kind', si.federation_kind],
        ['IdP binding', html`<${Short} value=${si.idp_binding_id} n=${36} />`],
        ['IdP client ID', html`<span class="mono">${si.client_id}</span>`],
        ['Subject', html`<span class="mono">${si.subject || '—'}</span>`],
      ]} />
      <p class="muted">The workload proves itself to its IdP; plexsphere holds no secret of it. It exchanges its IdP credentials for a short-lived token:</p>
      <${CodeBlock} lang="shell" title="Get a token" code=${tokenSnippet(si)} wrap testid="service-identity-snippet" />
    <//>
    <p><a href=${href('#/service-identities', { domain_id: si.domain_id })}>All service identities of this Domain</a></p>
    <${Dialog} open=${dialog === 'rename'} title="Rename service identity" onClose=${() => setDialog('')} testid="service-identity-rename-dialog">
      ${dialog === 'rename' && html`<${Form} initial=${{ display_name: si.display_name }} onSubmit=${rename} onCancel=${() => setDialog('')} submitLabel="Rename" testid="service-identity-rename-form">
        <${Field} name="display_name" label="Name" required autofocus /><//>`}
    <//>
    <${Confirm} open=${dialog === 'delete'} title="Delete service identity" confirmLabel="Delete" user=${user} testid="service-identity-delete-confirm"
      onClose=${() => setDialog('')}
      onConfirm=${async () => { await del(path); toast('Service identity deleted', 'success'); navigate('#/service-identities', { domain_id: si.domain_id }); }}>
      Deleting ${si.display_name} ends its tokens and removes its grants.
    <//>
  </div>`;
}

export const routes = [
  { path: '#/service-identities', title: 'Service identities', nav: 'Service identities', component: ServiceIdentitiesPage },
  { path: '#/domains/{domain}/service-identities/{id}', title: 'Service identity', component: ServiceIdentityPage, navParent: '#/service-identities' },
];
