// widgets/identity.js: small pieces shared by the identity screens
// (identities, groups, IdP bindings, tokens, service identities,
// invitations, device approval): a Domain picker bound to the route's
// domain_id, a problem box whose step-up action signs in through a given
// binding, and a confirm dialog.
import { html, useState, Button, Dialog, ErrorBox, useLoad } from '../ui.js';
import { list, post } from '../api.js';
import { navigate } from '../router.js';

// useDomainList loads the first page of the Domains the user sees.
export function useDomainList() {
  return useLoad(() => list('/v1/domains', { limit: 200 }).then((p) => p.items), []);
}

// pickDomain is the Domain a per-Domain screen shows: the route's
// domain_id, else the signed-in user's Domain, else the first one listed.
export function pickDomain(query, user, domains) {
  return query.domain_id || user?.domain_id || domains?.[0]?.id || '';
}

// DomainSelect is a labelled Domain picker that moves the route's
// domain_id; extra options ([[value, label]]) come first.
export function DomainSelect({ route, query, value, domains, extra = [], testid = 'domain-select' }) {
  const pick = (e) => navigate(route, { ...query, domain_id: e.target.value });
  return html`<label class="filter">Domain
    <select value=${value} onChange=${pick} data-testid=${testid}>
      ${extra.map(([v, l]) => html`<option value=${v}>${l}</option>`)}
      ${(domains || []).map((d) => html`<option value=${d.id}>${d.name}</option>`)}
    </select></label>`;
}

// signInAgain starts a sign-in that returns to this screen (the hash
// travels in return_to), pinned to an IdP binding when given (a device
// login must be approved through its own binding), asking for acr (a 401
// step_up_required's acrValues) and a fresh authentication when fresh.
export async function signInAgain({ domainID, bindingID, acr, fresh } = {}) {
  const body = { return_to: `/ui/${location.hash}` };
  if (bindingID) body.idp_binding_id = bindingID;
  else if (domainID) body.domain_id = domainID;
  if (acr && acr.length) body.acr_values = acr;
  if (fresh) body.prompt = 'login';
  const started = await post('/v1/auth/sign-in', body);
  location.assign(started.authorization_url);
}

// isStepUp reports whether err asks for a fresh, stronger sign-in.
export const isStepUp = (err) => err?.status === 401 && err?.code === 'step_up_required';

// Problem shows an API error inline (ErrorBox, which offers
// re-authentication for step-up). With bindingID, a step-up requirement
// gets a "sign in again" through that binding instead, at the ACRs asked.
export function Problem({ error, user, bindingID, testid = 'problem' }) {
  const [busy, setBusy] = useState(false);
  const [failed, setFailed] = useState(null);
  if (!error) return null;
  if (!isStepUp(error) || !bindingID) return html`<${ErrorBox} error=${error} testid=${testid} />`;
  const again = async () => {
    setBusy(true);
    try {
      await signInAgain({ domainID: user?.domain_id, bindingID, acr: error.acrValues, fresh: true });
    } catch (e) {
      setFailed(e);
      setBusy(false);
    }
  };
  return html`<div class="form-error" role="alert" data-testid=${testid} data-code="step_up_required">
    This needs a fresh, stronger sign-in (<span class="code">step_up_required</span>).
    <${Button} size="sm" variant="primary" onClick=${again} disabled=${busy} data-testid=${`${testid}-sign-in-again`}>Sign in again<//>
    <${ErrorBox} error=${failed} testid=${`${testid}-sign-in-error`} />
  </div>`;
}

// Confirm is a modal asking to confirm a destructive action; onConfirm may
// throw an API error, shown inline.
export function Confirm({ open, title, children, confirmLabel = 'Confirm', onConfirm, onClose, user, testid = 'confirm' }) {
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const go = async () => {
    setBusy(true);
    setErr(null);
    try {
      await onConfirm();
    } catch (e) {
      setErr(e);
    } finally {
      setBusy(false);
    }
  };
  const close = () => { setErr(null); onClose(); };
  return html`<${Dialog} open=${open} title=${title} onClose=${close} testid=${testid}>
    ${open && html`<p>${children}</p>
      <${Problem} error=${err} user=${user} testid=${`${testid}-error`} />
      <div class="form-actions">
        <${Button} onClick=${close} data-testid=${`${testid}-cancel`}>Cancel<//>
        <${Button} variant="danger" onClick=${go} disabled=${busy} data-testid=${`${testid}-ok`}>${confirmLabel}<//>
      </div>`}
  <//>`;
}

// splitList turns "a, b c" into ["a", "b", "c"].
export const splitList = (s) => String(s || '').split(/[\s,]+/).filter(Boolean);
