// Topics: a tree of the topics a selector fetches (GET /api/v1/topics) with
// their types and values, kept live by an MQTT subscription over WebSocket;
// add (POST), update (PUT) and remove (DELETE) a topic.

import { api, pathPart } from '../api.js';
import { h, clear, show, statusLine } from '../dom.js';
import { onLiveMessage, onLiveState, subscribe, unsubscribe } from '../live.js';

const TYPES = ['json', 'string', 'int64', 'double', 'binary', 'time_series'];
const MAX_LIVE_PATHS = 200;

// A plain MQTT topic filter rather than a path or pattern selector.
function isMqttFilter(sel) {
  return sel !== '' && !'>?*'.includes(sel[0]) && !sel.includes('////');
}

function filterMatches(filter, topic) {
  const f = filter.split('/');
  const t = topic.split('/');
  if (t[0].startsWith('$') && !f[0].startsWith('$')) return false;
  for (let i = 0; i < f.length; i += 1) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

// The value typed into a form as the JSON the API takes for `type`.
function parseInput(text, type) {
  if (type === 'string' || type === 'binary') return text;
  if (type === 'json' || type === 'int64' || type === 'double' || type === 'time_series') {
    return JSON.parse(text);
  }
  try { return JSON.parse(text); } catch { return text; }
}

export function render(el) {
  const topics = new Map(); // path -> {type, value, hasValue}
  const expanded = new Set(['']);
  let selected = null;
  let live = []; // subscribed filters
  let liveFilter = null;

  const selector = h('input', { id: 'topics-selector', class: 'mono', value: '#' });
  const fetchBtn = h('button', { id: 'topics-fetch', type: 'submit' }, 'Fetch');
  const liveBadge = h('span', { class: 'badge', id: 'live-state' }, 'live: off');
  const status = statusLine('topics-status');
  const tree = h('div', { class: 'tree', id: 'topic-tree' });
  const detail = h('div', { id: 'topic-detail' });
  const more = h('p', { class: 'hint', id: 'topics-more' });

  const addPath = h('input', { id: 'topic-add-path', class: 'mono', placeholder: 'plant/line1/speed' });
  const addType = h('select', { id: 'topic-add-type' }, TYPES.map((t) => h('option', { value: t }, t)));
  const addProps = h('textarea', { id: 'topic-add-properties', placeholder: '{"CONFLATION": "conflate"}' });
  const addValue = h('input', { id: 'topic-add-value', class: 'mono', placeholder: 'optional first value' });
  const addForm = h('form', { class: 'card', id: 'topic-add-form' },
    h('h2', {}, 'Add a topic'),
    h('label', {}, 'Path', addPath),
    h('label', {}, 'Type', addType),
    h('label', {}, 'Properties (a JSON object, optional)', addProps),
    h('label', {}, 'Value (optional)', addValue),
    h('button', { id: 'topic-add', type: 'submit' }, 'Add'));

  el.append(
    h('h1', {}, 'Topics'),
    h('form', { class: 'row', id: 'topics-fetch-form' },
      h('label', { class: 'grow' }, 'Selector', selector), fetchBtn, liveBadge),
    status,
    h('div', { class: 'split' },
      h('div', { class: 'card' }, h('h2', {}, 'Tree'), tree, more),
      h('div', {}, h('div', { class: 'card' }, detail), addForm)));

  // --- the tree -----------------------------------------------------------
  function buildTree() {
    const root = { name: '', path: '', children: new Map() };
    for (const p of [...topics.keys()].sort()) {
      let node = root;
      const parts = p.split('/');
      parts.forEach((part, i) => {
        if (!node.children.has(part)) {
          node.children.set(part, {
            name: part === '' ? '(empty)' : part,
            path: parts.slice(0, i + 1).join('/'),
            children: new Map(),
          });
        }
        node = node.children.get(part);
      });
    }
    return root;
  }

  function renderTree() {
    clear(tree);
    if (!topics.size) {
      tree.append(h('p', { class: 'hint' }, 'No topics with a value match.'));
      return;
    }
    const list = (node) => h('ul', {}, [...node.children.values()].map((n) => {
      const t = topics.get(n.path);
      const open = expanded.has(n.path);
      const hasKids = n.children.size > 0;
      const row = h('div', {
        class: 'node' + (selected === n.path ? ' selected' : ''),
        dataset: { path: n.path },
        onclick: () => {
          if (hasKids) { if (open) expanded.delete(n.path); else expanded.add(n.path); }
          if (t) selected = n.path;
          renderTree();
          renderDetail();
        },
      },
      h('span', { class: 'twisty' }, hasKids ? (open ? '▾' : '▸') : ''),
      h('span', { class: 'name' }, n.name),
      t ? h('span', { class: 'type' }, t.type) : null,
      t ? h('span', { class: 'val', dataset: { path: n.path } }, t.hasValue ? show(t.value) : '(no value)') : null);
      return h('li', { dataset: { path: n.path } }, row, hasKids && open ? list(n) : null);
    }));
    tree.append(list(buildTree()));
  }

  function expandTo(path) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i += 1) expanded.add(parts.slice(0, i).join('/'));
  }

  // --- the selected topic -------------------------------------------------
  function renderDetail() {
    clear(detail);
    const t = selected !== null ? topics.get(selected) : null;
    if (!t) {
      detail.append(h('h2', {}, 'Topic'), h('p', { class: 'hint' }, 'Select a topic in the tree.'));
      return;
    }
    const input = h('textarea', { id: 'topic-update-value', class: 'mono' });
    input.value = t.hasValue ? (typeof t.value === 'string' ? t.value : JSON.stringify(t.value, null, 2)) : '';
    detail.append(
      h('h2', {}, 'Topic ', h('code', { id: 'topic-path' }, selected)),
      h('p', {}, 'Type: ', h('b', { id: 'topic-type' }, t.type)),
      h('pre', { id: 'topic-value', class: 'mono' }, t.hasValue ? JSON.stringify(t.value, null, 2) : '(no value)'),
      h('form', { id: 'topic-update-form', onsubmit: (ev) => { ev.preventDefault(); update(selected, input.value); } },
        h('label', {}, 'New value', input),
        h('div', { class: 'row' },
          h('button', { id: 'topic-update', type: 'submit' }, 'Update'),
          h('button', {
            id: 'topic-remove', type: 'button', class: 'danger',
            onclick: () => remove(selected),
          }, 'Remove'))));
  }

  function setValue(path, type, value) {
    const t = topics.get(path) || { type };
    t.value = value;
    t.hasValue = true;
    if (!t.type || t.type === 'implicit') t.type = type;
    topics.set(path, t);
    const span = tree.querySelector(`.val[data-path="${CSS.escape(path)}"]`);
    if (span) {
      span.textContent = show(value);
      span.classList.add('flash');
      setTimeout(() => span.classList.remove('flash'), 600);
    }
    if (path === selected) {
      const pre = detail.querySelector('#topic-value');
      if (pre) pre.textContent = JSON.stringify(value, null, 2);
    }
    return !!span;
  }

  // --- live values ----------------------------------------------------------
  async function follow(sel, paths) {
    if (live.length) unsubscribe(live);
    live = [];
    liveFilter = null;
    delete tree.dataset.live;
    let filters;
    if (isMqttFilter(sel)) {
      filters = [sel];
      liveFilter = sel;
    } else {
      filters = paths.slice(0, MAX_LIVE_PATHS);
    }
    if (!filters.length) return;
    live = filters;
    try {
      await subscribe(filters);
      // Subscribed: from now on every publish shows.
      tree.dataset.live = filters.join(',');
    } catch (e) {
      status.fail(`Live values unavailable: ${e.message}`);
    }
  }

  const offMessage = onLiveMessage((topic, v) => {
    if (topic.startsWith('$castor/')) return;
    const known = topics.has(topic);
    if (!known && !(liveFilter && filterMatches(liveFilter, topic))) return;
    const t = topics.get(topic);
    let value = v.value;
    // Typed topics arrive in their MQTT form: numbers as text.
    if (t && (t.type === 'int64' || t.type === 'double') && typeof value === 'string') {
      const n = Number(value);
      if (!Number.isNaN(n)) value = n;
    }
    const shown = setValue(topic, (t && t.type) || v.type, value);
    if (!known || !shown) { expandTo(topic); renderTree(); }
  });

  const offState = onLiveState((s, detailText) => {
    liveBadge.textContent = `live: ${s}`;
    liveBadge.className = 'badge ' + (s === 'connected' ? 'on' : s === 'off' || s === 'connecting' ? '' : 'off');
    liveBadge.title = detailText || '';
  });

  // --- API calls --------------------------------------------------------
  async function load() {
    const sel = selector.value.trim() || '#';
    status.reset();
    fetchBtn.disabled = true;
    try {
      const r = await api.get(`/topics?selector=${encodeURIComponent(sel)}&limit=1000`);
      topics.clear();
      for (const t of r.topics || []) {
        topics.set(t.path, { type: t.type, value: t.value, hasValue: 'value' in t });
      }
      if (topics.size <= 50) for (const p of topics.keys()) expandTo(p);
      if (selected !== null && !topics.has(selected)) selected = null;
      more.textContent = r.more ? 'More topics match: narrow the selector.' : '';
      renderTree();
      renderDetail();
      status.ok(`${topics.size} topic${topics.size === 1 ? '' : 's'}.`);
      await follow(sel, [...topics.keys()]);
    } catch (e) {
      status.fail(`Fetch failed: ${e.code}: ${e.message}`);
      // Live values still show what a plain MQTT filter receives.
      if (isMqttFilter(sel)) await follow(sel, []);
    } finally {
      fetchBtn.disabled = false;
    }
  }

  async function update(path, text) {
    const t = topics.get(path);
    let value;
    try {
      value = parseInput(text, t && t.type);
    } catch (e) {
      status.fail(`Not a valid ${t.type} value: ${e.message}`);
      return;
    }
    try {
      await api.put(`/topics/${pathPart(path)}`, { value });
      status.ok(`Updated ${path}.`);
    } catch (e) {
      status.fail(`Update failed: ${e.code}: ${e.message}`);
    }
  }

  async function remove(path) {
    try {
      await api.del(`/topics/${pathPart(path)}`);
      topics.delete(path);
      if (selected === path) selected = null;
      renderTree();
      renderDetail();
      status.ok(`Removed ${path}.`);
    } catch (e) {
      status.fail(`Remove failed: ${e.code}: ${e.message}`);
    }
  }

  addForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const path = addPath.value.trim();
    const type = addType.value;
    const body = { path, type };
    let value;
    try {
      if (addProps.value.trim()) body.properties = JSON.parse(addProps.value);
      if (addValue.value !== '') value = parseInput(addValue.value, type);
    } catch (e) {
      status.fail(`Not valid JSON: ${e.message}`);
      return;
    }
    try {
      const r = await api.post('/topics', body);
      if (value !== undefined) await api.put(`/topics/${pathPart(path)}`, { value });
      // Its live value may have arrived first, with the type guessed.
      if (topics.has(path)) topics.get(path).type = type;
      else topics.set(path, { type, hasValue: false });
      if (value !== undefined) setValue(path, type, value);
      selected = path;
      expandTo(path);
      renderTree();
      renderDetail();
      status.ok(r.exists ? `${path} exists already with that specification.` : `Added ${path}.`);
      if (liveFilter === null) await follow(selector.value.trim(), [...topics.keys()]);
    } catch (e) {
      status.fail(`Add failed: ${e.code}: ${e.message}`);
    }
  });

  el.querySelector('#topics-fetch-form').addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  renderDetail();
  load();
  return () => { offMessage(); offState(); if (live.length) unsubscribe(live); };
}
