// projectpick.js: a Project picker for the Project-scoped screens
// (policies, secrets, sessions, executions). The choice lives in the
// route's query (?project_id=), so a link or reload keeps it.
import { html, useLoad } from '../ui.js';
import { list } from '../api.js';
import { navigate } from '../router.js';

// useProjects loads the first page of the Projects the user sees.
export function useProjects() {
  return useLoad(() => list('/v1/projects', { limit: 200 }).then((p) => p.items), []);
}

// ProjectPick is a labelled select that navigates to route with the
// Project chosen.
export function ProjectPick({ route, projectID, projects }) {
  const pick = (e) => navigate(route, { project_id: e.target.value });
  return html`<label class="filter">Project
    <select value=${projectID || ''} onChange=${pick} data-testid="project-pick">
      <option value="">Choose a Project…</option>
      ${(projects || []).map((p) => html`<option value=${p.id}>${p.name} (${p.slug})</option>`)}
    </select></label>`;
}
