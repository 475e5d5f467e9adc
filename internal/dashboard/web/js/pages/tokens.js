// API tokens: the signed-in user's own (GET/POST /v1/auth/tokens, revoke,
// rotate) and, for administrators, the tokens of another principal
// (/v1/admin/tokens?identity_ref=user:<id>|service:<id>). A token's
// plaintext is in the issue/rotate answer only: shown once, then dropped.
// Issuing and rotating are sensitive: a 401 step_up_required shows inline
// with the design system's re-authentication action.
import { html, useState, PageHeader, DataTable, Button, Form, Field, Card, SecretReveal, StatusBadge, fmtTime, toast } from '../ui.js';
import { post, del } from '../api.js';
import { navigate } from '../router.js';
import { Confirm, Problem } from '../widgets/identity.js';

const envs = [['dev', 'dev'], ['stage', 'stage'], ['prod', 'prod']];

function expiry(t) {
  if (t.never_expires) return html`<${StatusBadge} status="never expires" tone="warning" testid="token-never" />`;
  return fmtTime(t.expires_at);
}

// TokenTable lists tokens of base (a bare array) with revoke and rotate.
function TokenTable({ base, params, reload, testid, onRevoke, onRotate }) {
  return html`<${DataTable} path=${base} params=${params} reload=${reload} testid=${testid} limit=${200}
    columns=${[
      { key: 'prefix', label: 'Prefix', render: (t) => html`<span class="mono" data-testid=${`${testid}-prefix`}>${t.prefix}…</span>` },
      { key: 'env_prefix', label: 'Environment' },
      { key: 'created_at', label: 'Created', render: (t) => fmtTime(t.created_at) },
      { key: 'expires_at', label: 'Expires', render: expiry },
      { key: 'last_used_at', label: 'Last used', render: (t) => fmtTime(t.last_used_at) || '—' },
      { key: 'actions', label: 'Actions', render: (t) => html`
        <${Button} size="sm" onClick=${() => onRotate(t)} data-testid=${`${testid}-rotate`} aria-label=${`Rotate token ${t.prefix}`}>Rotate<//>
        <${Button} size="sm" variant="danger" onClick=${() => onRevoke(t)} data-testid=${`${testid}-revoke`} aria-label=${`Revoke token ${t.prefix}`}>Revoke<//>` },
    ]} />`;
}

// TokenSection is one list of tokens with its issue form, the copy-once
// reveal of a new plaintext and the revoke confirmation.
function TokenSection({ title, base, params, issueBody, user, testid }) {
  const [reload, setReload] = useState(0);
  const [issued, setIssued] = useState(null);
  const [problem, setProblem] = useState(null);
  const [revoking, setRevoking] = useState(null);
  const issue = async (v) => {
    setProblem(null);
    const t = await post(base, { ...issueBody, env_prefix: v.env_prefix, ttl_seconds: v.ttl_hours ? Math.round(v.ttl_hours * 3600) : undefined });
    setIssued(t);
    setReload((n) => n + 1);
  };
  const rotate = async (t) => {
    setProblem(null);
    try {
      const r = await post(`${base}/${encodeURIComponent(t.id)}/rotate`);
      setIssued(r);
      toast('Token rotated: the old secret works until the rotation deadline', 'success');
      setReload((n) => n + 1);
    } catch (e) {
      setProblem(e);
    }
  };
  return html`<${Card} title=${title} testid=${testid}>
    <${Problem} error=${problem} user=${user} testid=${`${testid}-problem`} />
    ${issued && html`<div data-testid=${`${testid}-issued`}>
      <${SecretReveal} key=${issued.id + (issued.rotation_deadline || '')} value=${issued.plaintext} label="API token" testid=${`${testid}-secret`} />
      <p class="muted">Expires ${issued.never_expires ? 'never' : fmtTime(issued.expires_at)}${issued.rotation_deadline ? `; the previous secret stops working ${fmtTime(issued.rotation_deadline)}` : ''}.</p></div>`}
    <${Form} initial=${{ env_prefix: 'dev' }} onSubmit=${issue} submitLabel="Issue token" testid=${`${testid}-form`}>
      <${Field} name="env_prefix" label="Environment" type="select" options=${envs} required />
      <${Field} name="ttl_hours" label="Lifetime (hours)" type="number" hint="Empty: the default. It never outlives the credential that mints it." />
    <//>
    <${TokenTable} base=${base} params=${params} reload=${reload} testid=${`${testid}-table`} onRevoke=${setRevoking} onRotate=${rotate} />
    <${Confirm} open=${!!revoking} title="Revoke token" confirmLabel="Revoke" user=${user} testid=${`${testid}-revoke-confirm`}
      onClose=${() => setRevoking(null)}
      onConfirm=${async () => {
        await del(`${base}/${encodeURIComponent(revoking.id)}`);
        toast('Token revoked', 'success');
        setRevoking(null);
        setReload((n) => n + 1);
      }}>
      Revoking ${revoking?.prefix}… ends it at once, with every token it minted.
    <//>
  <//>`;
}

function AdminTokens({ query, user }) {
  const [ref, setRef] = useState(query.identity_ref || '');
  const show = (e) => { e.preventDefault(); navigate('#/tokens', { ...query, identity_ref: ref.trim() }); };
  return html`<${Card} title="Tokens of another principal" testid="admin-tokens">
    <form class="filters" onSubmit=${show} role="search" data-testid="admin-tokens-pick">
      <label class="filter">Identity
        <input value=${ref} placeholder="service:<uuid> or user:<uuid>" onInput=${(e) => setRef(e.target.value)} data-testid="admin-tokens-ref" /></label>
      <${Button} type="submit" data-testid="admin-tokens-show">Show<//>
    </form>
    ${query.identity_ref ? html`<${TokenSection} key=${query.identity_ref} title=${`Tokens of ${query.identity_ref}`} base="/v1/admin/tokens"
        params=${{ identity_ref: query.identity_ref }} issueBody=${{ identity_ref: query.identity_ref }} user=${user} testid="admin-token" />`
      : html`<p class="muted">Domain admins manage the tokens of the Domain's users and service identities; pick one (its identity page links here).</p>`}
  <//>`;
}

function TokensPage({ query, user }) {
  return html`<div>
    <${PageHeader} title="API tokens" />
    <${TokenSection} title="My tokens" base="/v1/auth/tokens" params=${{}} issueBody=${{}} user=${user} testid="my-token" />
    <${AdminTokens} query=${query} user=${user} />
  </div>`;
}

export const routes = [
  { path: '#/tokens', title: 'API tokens', nav: 'API tokens', component: TokensPage },
];
