// yaml.js: the policy editor's text format. A body is JSON when it starts
// with "{" and YAML otherwise (the vendored js-yaml, JSON-compatible
// schema only: no custom tags, no code). js-yaml is loaded on first use
// (yamlReady), so pages that edit no policy never evaluate it.
let lib = null;
let loading = null;

// yamlReady loads the YAML library; parseBody and toYAML need it.
export function yamlReady() {
  loading ||= import('../../vendor/js-yaml/js-yaml.mjs').then((m) => { lib = m; return m; });
  return loading;
}

// parseBody reads an editor body into an object; it throws an Error whose
// message names the line when the text does not parse.
export function parseBody(text) {
  const s = text.trim();
  if (s === '') throw new Error('The body is empty.');
  if (s.startsWith('{')) {
    try { return JSON.parse(s); } catch (e) { throw new Error(`JSON: ${e.message}`); }
  }
  let v;
  try { v = lib.load(s, { schema: lib.JSON_SCHEMA }); } catch (e) { throw new Error(`YAML: ${e.message}`); }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('The body must be a mapping (slug, selector, rules, tests).');
  return v;
}

// toYAML renders an object as YAML for the editor.
export function toYAML(v) {
  return lib.dump(v, { schema: lib.JSON_SCHEMA, lineWidth: 120, noRefs: true, flowLevel: 3 });
}

// toJSON renders an object as indented JSON.
export function toJSON(v) {
  return JSON.stringify(v, null, 2);
}
