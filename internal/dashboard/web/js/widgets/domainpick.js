// domainpick.js: the Domain picker of the Domain-scoped screens (nodes,
// topology, metrics, logs, alert rules, incidents). The choice lives in
// the route's query (?domain_id=), so a link or reload keeps it; with
// none chosen the first Domain is picked.
import { html, useEffect } from '../ui.js';
import { useDomains } from '../pages/projects.js';

// DomainPicker is a labelled select calling onPick(id) on a change (and
// once with the first Domain when value is empty).
export function DomainPicker({ value, onPick, testid }) {
  const domains = useDomains();
  useEffect(() => {
    if (!value && domains.data?.length) onPick(domains.data[0].id);
  }, [value, domains.data]);
  if (domains.data && domains.data.length === 0) return html`<span class="muted" data-testid=${`${testid}-none`}>No Domain visible to you.</span>`;
  return html`<label class="filter">Domain
    <select value=${value} onChange=${(e) => onPick(e.target.value)} data-testid=${testid}>
      ${(domains.data || []).map((d) => html`<option value=${d.id}>${d.name}</option>`)}
    </select></label>`;
}
