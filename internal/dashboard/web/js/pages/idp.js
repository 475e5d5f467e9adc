// IdP bindings: a Domain's (/v1/admin/idp?domain_id=) or the platform's
// (/v1/admin/platform-idp): list, bind, change, enable/disable, delete.
// Secrets are given by reference or inline (sealed by the server) and
// never shown back.
import { html, useState, PageHeader, DataTable, Button, Dialog, Form, Field, StatusBadge, toast } from '../ui.js';
import { post, patch, del, get } from '../api.js';
import { useDomainList, pickDomain, DomainSelect, Confirm, splitList } from '../widgets/identity.js';

const PLATFORM = 'platform';
const yesNo = [['false', 'no'], ['true', 'yes']];

function CreateBinding({ domainID, onCreated, onCancel }) {
  const submit = async (v) => {
    const body = {
      issuer: v.issuer, client_id: v.client_id,
      client_secret_ref: v.client_secret_ref || undefined, client_secret: v.client_secret || undefined,
      discovery_url: v.discovery_url || undefined, jit_policy: v.jit_policy,
      alias: v.alias || undefined, primary: v.primary === 'true',
      required_acr: splitList(v.required_acr).length ? splitList(v.required_acr) : undefined,
      claim_mappings: v.groups_claim ? { groups: v.groups_claim } : undefined,
    };
    const b = domainID === PLATFORM ? await post('/v1/admin/platform-idp', body) : await post('/v1/admin/idp', { ...body, domain_id: domainID });
    toast(`Bound ${b.issuer}`, 'success');
    onCreated(b);
  };
  return html`<${Form} initial=${{ jit_policy: 'allow', primary: 'false' }} onSubmit=${submit} onCancel=${onCancel} submitLabel="Bind" testid="idp-form">
    <${Field} name="issuer" label="Issuer" required autofocus placeholder="https://login.example.com" />
    <${Field} name="client_id" label="Client ID" required />
    <${Field} name="client_secret_ref" label="Client secret reference" placeholder="env:VAR or file:/abs/path" hint="Or give the secret inline below (stored sealed, never shown again)." />
    <${Field} name="client_secret" label="Client secret (inline)" type="password" />
    <${Field} name="discovery_url" label="Discovery URL" hint="Default: <issuer>/.well-known/openid-configuration." />
    <${Field} name="jit_policy" label="Just-in-time users" type="select" options=${[['allow', 'allow: create users at first sign-in'], ['deny', 'deny: only known or invited users']]} />
    <${Field} name="alias" label="Alias" />
    <${Field} name="primary" label="Primary" type="select" options=${yesNo} />
    <${Field} name="required_acr" label="Required ACR" hint="Space- or comma-separated; sensitive operations then need a sign-in meeting one." />
    <${Field} name="groups_claim" label="Groups claim" placeholder="groups" />
  <//>`;
}

function EditBinding({ binding, onDone, onCancel }) {
  const submit = async (v) => {
    const b = await patch(`/v1/admin/idp/${encodeURIComponent(binding.id)}`, {
      discovery_url: v.discovery_url, jit_policy: v.jit_policy, alias: v.alias, primary: v.primary === 'true',
      required_acr: splitList(v.required_acr), required_amr: splitList(v.required_amr),
    });
    toast('Binding changed', 'success');
    onDone(b);
  };
  const initial = {
    discovery_url: binding.discovery_url, jit_policy: binding.jit_policy, alias: binding.alias || '', primary: String(!!binding.primary),
    required_acr: (binding.required_acr || []).join(' '), required_amr: (binding.required_amr || []).join(' '),
  };
  return html`<${Form} initial=${initial} onSubmit=${submit} onCancel=${onCancel} submitLabel="Save" testid="idp-edit-form">
    <${Field} name="discovery_url" label="Discovery URL" required />
    <${Field} name="jit_policy" label="Just-in-time users" type="select" options=${['allow', 'deny']} />
    <${Field} name="alias" label="Alias" hint="Empty clears it." />
    <${Field} name="primary" label="Primary" type="select" options=${yesNo} />
    <${Field} name="required_acr" label="Required ACR" hint="Space-separated; empty: none." />
    <${Field} name="required_amr" label="Required AMR" hint="Space-separated; all are required." />
  <//>`;
}

function IdPPage({ query, user }) {
  const domains = useDomainList();
  const scope = pickDomain(query, user, domains.data);
  const [dialog, setDialog] = useState(null);
  const [reload, setReload] = useState(0);
  const refresh = () => setReload((n) => n + 1);
  const load = () => (scope === PLATFORM ? get('/v1/admin/platform-idp') : get('/v1/admin/idp', { domain_id: scope }))
    .then((l) => ({ items: Array.isArray(l) ? l : [], next_cursor: '' }));
  const setStatus = async (b, status) => {
    try {
      await patch(`/v1/admin/idp/${encodeURIComponent(b.id)}/status`, { status });
      toast(status === 'active' ? 'Binding enabled' : 'Binding disabled: its sessions ended', 'success');
      refresh();
    } catch (e) {
      toast(`${e.detail || e.message}${e.code ? ` (${e.code})` : ''}`, 'danger');
    }
  };
  return html`<div>
    <${PageHeader} title="IdP bindings">
      <${DomainSelect} route="#/idp" query=${query} value=${scope} domains=${domains.data} extra=${[[PLATFORM, 'Platform-wide']]} testid="idp-scope" />
      <${Button} variant="primary" onClick=${() => setDialog({ kind: 'create' })} disabled=${!scope} data-testid="idp-create">Bind an IdP<//>
    <//>
    ${scope && html`<${DataTable} key=${scope} load=${load} reload=${reload} testid="idp" caption=${scope === PLATFORM ? 'Platform-wide bindings' : 'Bindings of the Domain'}
      columns=${[
        { key: 'issuer', label: 'Issuer', render: (b) => html`<span class="mono" data-testid="idp-issuer">${b.issuer}</span>` },
        { key: 'alias', label: 'Alias', render: (b) => b.alias || '—' },
        { key: 'primary', label: 'Primary', render: (b) => (b.primary ? 'yes' : '') },
        { key: 'jit_policy', label: 'JIT' },
        { key: 'required_acr', label: 'Required ACR', render: (b) => (b.required_acr || []).join(' ') || '—' },
        { key: 'status', label: 'Status', render: (b) => html`<${StatusBadge} status=${b.status} testid="idp-status" />` },
        { key: 'actions', label: 'Actions', render: (b) => html`
          <${Button} size="sm" onClick=${() => setDialog({ kind: 'edit', b })} data-testid="idp-edit">Edit<//>
          ${b.status === 'active'
            ? html`<${Button} size="sm" onClick=${() => setDialog({ kind: 'disable', b })} data-testid="idp-disable">Disable<//>`
            : html`<${Button} size="sm" onClick=${() => setStatus(b, 'active')} data-testid="idp-enable">Enable<//>`}
          <${Button} size="sm" variant="danger" onClick=${() => setDialog({ kind: 'delete', b })} data-testid="idp-delete">Delete<//>` },
      ]} />`}
    <${Dialog} open=${dialog?.kind === 'create'} title="Bind an identity provider" onClose=${() => setDialog(null)} testid="idp-dialog">
      ${dialog?.kind === 'create' && html`<${CreateBinding} domainID=${scope} onCancel=${() => setDialog(null)} onCreated=${() => { setDialog(null); refresh(); }} />`}
    <//>
    <${Dialog} open=${dialog?.kind === 'edit'} title="Change binding" onClose=${() => setDialog(null)} testid="idp-edit-dialog">
      ${dialog?.kind === 'edit' && html`<${EditBinding} binding=${dialog.b} onCancel=${() => setDialog(null)} onDone=${() => { setDialog(null); refresh(); }} />`}
    <//>
    <${Confirm} open=${dialog?.kind === 'disable'} title="Disable binding" confirmLabel="Disable" user=${user} testid="idp-disable-confirm"
      onClose=${() => setDialog(null)}
      onConfirm=${async () => { await patch(`/v1/admin/idp/${encodeURIComponent(dialog.b.id)}/status`, { status: 'deactivated' }); toast('Binding disabled', 'success'); setDialog(null); refresh(); }}>
      Disabling ends every browser session signed in through it; its API tokens and device logins stop working while it is disabled.
    <//>
    <${Confirm} open=${dialog?.kind === 'delete'} title="Delete binding" confirmLabel="Delete" user=${user} testid="idp-delete-confirm"
      onClose=${() => setDialog(null)}
      onConfirm=${async () => { await del(`/v1/admin/idp/${encodeURIComponent(dialog.b.id)}`); toast('Binding deleted', 'success'); setDialog(null); refresh(); }}>
      Deleting the binding ends its sessions. Binding the same issuer again keeps its users.
    <//>
  </div>`;
}

export const routes = [
  { path: '#/idp', title: 'IdP bindings', nav: 'IdP bindings', component: IdPPage },
];
