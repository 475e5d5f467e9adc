// yaml.js: the policy editor's text format. A body is JSON when it starts
// with "{" and YAML otherwise (the vendored js-yaml, JSON-compatible
// schema only: no custom tags, no code).
import { load, dump, JSON_SCHEMA } from '../../vendor/js-yaml/js-yaml.mjs';

// parseBody reads an editor body into an object; it throws an Error whose
// message names the line when the text does not parse.
export function parseBody(text) {
  const s = text.trim();
  if (s === '') throw new Error('The body is empty.');
  if (s.startsWith('{')) {
    try { return JSON.parse(s); } catch (e) { throw new Error(`JSON: ${e.message}`); }
  }
  let v;
  try { v = load(s, { schema: JSON_SCHEMA }); } catch (e) { throw new Error(`YAML: ${e.message}`); }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('The body must be a mapping (slug, selector, rules, tests).');
  return v;
}

// toYAML renders an object as YAML for the editor.
export function toYAML(v) {
  return dump(v, { schema: JSON_SCHEMA, lineWidth: 120, noRefs: true, flowLevel: 3 });
}

// toJSON renders an object as indented JSON.
export function toJSON(v) {
  return JSON.stringify(v, null, 2);
}
