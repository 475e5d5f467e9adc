// Sign-in with the IdP chooser: the Domain's public sign-in options
// (GET /v1/auth/idp-bindings), then POST /v1/auth/sign-in and off to the
// IdP; its callback sets the session cookie and lands on /ui/.
import { html, useState, useEffect, Card, Button, Spinner, ErrorBox, EmptyState } from '../ui.js';
import { get, post } from '../api.js';

const DOMAIN_KEY = 'plexsphere.signInDomain';

const authErrors = () => {
  const q = new URLSearchParams(location.search);
  const kind = q.get('auth_error_kind');
  return kind ? { code: kind, detail: q.get('auth_error_detail') || 'Sign-in failed.', status: Number(q.get('auth_error_status')) } : null;
};

function SignInPage({ query = {} }) {
  const [domain, setDomain] = useState(query.domain || localStorage.getItem(DOMAIN_KEY) || '');
  const [asked, setAsked] = useState(query.domain || localStorage.getItem(DOMAIN_KEY) || '');
  const [options, setOptions] = useState(null);
  const [error, setError] = useState(authErrors());
  const [busy, setBusy] = useState('');
  useEffect(() => {
    if (!asked) return;
    setOptions(null);
    get('/v1/auth/idp-bindings', { domain_id: asked })
      .then((l) => setOptions(Array.isArray(l) ? l : []))
      .catch((e) => { setError(e); setOptions([]); });
  }, [asked]);
  const choose = (e) => {
    e.preventDefault();
    localStorage.setItem(DOMAIN_KEY, domain.trim());
    setError(null);
    setAsked(domain.trim());
  };
  const signIn = async (b) => {
    setBusy(b.id);
    setError(null);
    try {
      const started = await post('/v1/auth/sign-in', { domain_id: asked, idp_binding_id: b.id, return_to: '/ui/' });
      location.assign(started.authorization_url);
    } catch (e) {
      setError(e);
      setBusy('');
    }
  };
  return html`<${Card} narrow testid="sign-in">
    <h1>Sign in to plexsphere</h1>
    <form class="form" onSubmit=${choose} data-testid="sign-in-domain-form">
      <div class="field">
        <label for="signin-domain">Domain ID</label>
        <input id="signin-domain" name="domain_id" value=${domain} required autocomplete="on"
          onInput=${(e) => setDomain(e.target.value)} data-testid="sign-in-domain" aria-describedby="signin-domain-hint" />
        <span class="hint" id="signin-domain-hint">The id of the Domain you sign in to (your administrator has it).</span>
      </div>
      <div class="form-actions"><${Button} type="submit" variant=${asked ? 'default' : 'primary'} data-testid="sign-in-options">Show sign-in options<//></div>
    </form>
    <${ErrorBox} error=${error} testid="sign-in-error" />
    ${asked && options === null && html`<${Spinner} label="Loading sign-in options" />`}
    ${options && options.length === 0 && !error && html`<${EmptyState} title="No sign-in options" testid="sign-in-none">No identity provider serves this Domain.<//>`}
    ${options && options.length > 0 && html`<div class="stack" data-testid="idp-chooser">
      <p class="muted">Continue with:</p>
      ${options.map((b) => html`<${Button} variant=${b.primary ? 'primary' : 'default'} onClick=${() => signIn(b)} disabled=${!!busy}
          data-testid="idp-option" data-alias=${b.alias || ''} data-id=${b.id}>
        ${busy === b.id ? html`<${Spinner} label="Redirecting" />` : ''} ${b.label || b.alias || b.issuer_host}
        <span class="muted">${b.issuer_host}${b.platform_scoped ? ' · platform' : ''}</span><//>`)}
    </div>`}
  <//>`;
}

export const routes = [
  { path: '#/sign-in', title: 'Sign in', component: SignInPage, public: true, bare: true },
];
