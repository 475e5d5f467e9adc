// Device approval (#/device?user_code=…&idp_binding_id=…): the browser side
// of the device flow (plexctl login). It signs the user in through the
// login's IdP binding when needed (returning here), then approves or
// denies the user code with POST /v1/auth/device/approve. A 401
// step_up_required offers a fresh sign-in through the same binding.
import { html, useState, Card, Button, ErrorBox, Spinner } from '../ui.js';
import { post } from '../api.js';
import { navigate } from '../router.js';
import { Problem, signInAgain } from '../widgets/identity.js';

const CODE = /^[A-Za-z2-7]{4}-?[A-Za-z2-7]{4}$/;

function CodeEntry({ query }) {
  const [code, setCode] = useState('');
  const go = (e) => { e.preventDefault(); navigate('#/device', { ...query, user_code: code.trim().toUpperCase() }); };
  return html`<form class="form" onSubmit=${go} data-testid="device-code-form">
    <div class="field"><label for="device-code-input">Code shown on your device</label>
      <input id="device-code-input" value=${code} onInput=${(e) => setCode(e.target.value)} required autocomplete="off"
        placeholder="ABCD-EFGH" data-testid="device-code-input" /></div>
    <div class="form-actions"><${Button} type="submit" variant="primary" data-testid="device-code-submit">Continue<//></div>
  </form>`;
}

function DevicePage({ query = {}, user }) {
  const code = query.user_code || '';
  const binding = query.idp_binding_id || '';
  const [busy, setBusy] = useState('');
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const decide = async (deny) => {
    setBusy(deny ? 'deny' : 'approve');
    setError(null);
    try {
      setResult(await post('/v1/auth/device/approve', { user_code: code, deny }));
    } catch (e) {
      setError(e);
    } finally {
      setBusy('');
    }
  };
  const signIn = async () => {
    setBusy('sign-in');
    setError(null);
    try {
      await signInAgain({ bindingID: binding, domainID: query.domain_id });
    } catch (e) {
      setError(e);
      setBusy('');
    }
  };
  let body;
  if (!code) body = html`<${CodeEntry} query=${query} />`;
  else if (!CODE.test(code)) body = html`<${ErrorBox} error=${{ code: 'invalid_user_code', detail: 'This is not a device code: it has eight letters A–Z or digits 2–7.' }} testid="device-error" />`;
  else if (result) {
    body = html`<p role="status" data-testid="device-result" data-status=${result.status}>
      ${result.status === 'approved' ? 'Approved. Return to your terminal.' : 'Refused. You can close this page.'}</p>`;
  } else if (!user) {
    body = html`<p>Sign in to decide, with the identity provider the device asked for.</p>
      <${Button} variant="primary" onClick=${signIn} disabled=${!!busy} data-testid="device-sign-in">${busy === 'sign-in' ? html`<${Spinner} label="Redirecting" />` : ''} Sign in to continue<//>`;
  } else {
    body = html`<p>Signed in as <strong data-testid="device-who">${user.email || user.subject}</strong>.</p>
      <div class="form-actions">
        <${Button} onClick=${() => decide(true)} disabled=${!!busy} data-testid="device-deny">Deny<//>
        <${Button} variant="primary" onClick=${() => decide(false)} disabled=${!!busy} data-testid="device-approve">Approve<//>
      </div>`;
  }
  return html`<${Card} narrow testid="device">
    <h1>Approve a device login</h1>
    ${code && html`<p>A device (for example <code>plexctl login</code>) asks to act as you with the code:</p>
      <p><code class="secret-value" data-testid="device-code">${code.toUpperCase()}</code></p>
      <p class="muted">Approve only if it matches the code shown on your device.</p>`}
    ${body}
    <${Problem} error=${error} user=${user} bindingID=${binding} testid="device-error" />
    ${user && html`<p><a href="#/domains">Go to the dashboard</a></p>`}
  <//>`;
}

export const routes = [
  { path: '#/device', title: 'Approve a device login', component: DevicePage, public: true, bare: true },
];
