// Identities of a Domain (Domain admins): who exists, newest first, with
// their direct groups; the detail adds the e-mail, the IdP subject and the
// effective roles (ReBAC lookup, through groups and inheritance).
import { html, PageHeader, DataTable, Card, KV, Spinner, ErrorBox, EmptyState, StatusBadge, Short, fmtTime, useLoad } from '../ui.js';
import { get } from '../api.js';
import { navigate, href } from '../router.js';
import { useDomainList, pickDomain, DomainSelect } from '../widgets/identity.js';

function Groups({ groups }) {
  if (!groups || groups.length === 0) return '—';
  return html`<span data-testid="identity-groups">${groups.map((g, i) => html`${i > 0 && ', '}<a href=${`#/groups/${g.id}`}>${g.display_name}</a>${g.source === 'idp' && html` <span class="muted">(IdP)</span>`}`)}</span>`;
}

function IdentitiesPage({ query, user }) {
  const domains = useDomainList();
  const domainID = pickDomain(query, user, domains.data);
  const base = `/v1/domains/${encodeURIComponent(domainID)}/identities`;
  return html`<div>
    <${PageHeader} title="Identities">
      <${DomainSelect} route="#/identities" query=${query} value=${domainID} domains=${domains.data} testid="identities-domain" />
    <//>
    ${domainID && html`<${DataTable} path=${base} testid="identities" caption="Users and service identities of the Domain"
      filters=${[{ name: 'kind', label: 'Kind', type: 'select', options: [['', 'any'], ['user', 'users'], ['service-identity', 'service identities']] }]}
      onRow=${(i) => navigate(`#/domains/${domainID}/identities/${i.id}`)}
      columns=${[
        { key: 'display_name', label: 'Name', render: (i) => html`<a href=${`#/domains/${domainID}/identities/${i.id}`} data-testid="identity-link">${i.display_name || i.id}</a>` },
        { key: 'kind', label: 'Kind', render: (i) => html`<${StatusBadge} status=${i.kind} tone="info" testid="identity-kind" />` },
        { key: 'idp_binding_id', label: 'IdP binding', render: (i) => html`<${Short} value=${i.idp_binding_id} />` },
        { key: 'last_sign_in_at', label: 'Last sign-in', render: (i) => fmtTime(i.last_sign_in_at) || 'never' },
        { key: 'groups', label: 'Groups', render: (i) => html`<${Groups} groups=${i.groups} />` },
      ]} />`}
  </div>`;
}

function IdentityPage({ params }) {
  const { data: i, error, loading } = useLoad(() => get(`/v1/domains/${encodeURIComponent(params.domain)}/identities/${encodeURIComponent(params.id)}`), [params.domain, params.id]);
  if (loading) return html`<${Spinner} />`;
  if (error) return html`<${PageHeader} title="Identity" /><${ErrorBox} error=${error} />`;
  const roles = i.effective_roles || [];
  const ref = i.kind === 'user' ? `user:${i.id}` : `service:${i.id}`;
  return html`<div data-testid="identity-detail" data-id=${i.id}>
    <${PageHeader} title=${i.display_name || i.id}>
      <a class="btn" href=${href('#/tokens', { identity_ref: ref })} data-testid="identity-tokens">API tokens</a>
    <//>
    <${Card}>
      <${KV} testid="identity-kv" items=${[
        ['ID', html`<span class="mono" data-testid="identity-id">${i.id}</span>`],
        ['Kind', i.kind],
        ['E-mail', i.email || '—'],
        ['IdP subject', html`<span class="mono">${i.external_subject || '—'}</span>`],
        ['IdP binding', html`<span class="mono">${i.idp_binding_id || '—'}</span>`],
        ['Last sign-in', fmtTime(i.last_sign_in_at) || 'never'],
        ['Groups', html`<${Groups} groups=${i.groups} />`],
        ['Created', fmtTime(i.created_at)],
      ]} />
    <//>
    <${Card} title="Effective roles" testid="identity-roles">
      ${roles.length === 0 ? html`<${EmptyState} title="No roles" testid="identity-roles-empty">It holds no role on this Domain or its Projects.<//>`
        : html`<div class="table-wrap"><table class="data"><caption>Roles on the Domain and its Projects, direct or through groups and inheritance</caption>
          <thead><tr><th scope="col">Object</th><th scope="col">Role</th></tr></thead>
          <tbody>${roles.map((r) => html`<tr data-testid="identity-role" key=${r.object + r.relation}><td class="mono">${r.object}</td><td>${r.relation}</td></tr>`)}</tbody>
        </table></div>`}
    <//>
    <p><a href=${href('#/identities', { domain_id: params.domain })}>All identities of this Domain</a></p>
  </div>`;
}

export const routes = [
  { path: '#/identities', title: 'Identities', nav: 'Identities', component: IdentitiesPage },
  { path: '#/domains/{domain}/identities/{id}', title: 'Identity', component: IdentityPage, navParent: '#/identities' },
];
