// Small DOM helpers: elements are built with h(), never from HTML text, so
// nothing the server sends is interpreted as markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// A status line that shows the outcome of an action.
export function statusLine(id) {
  const el = h('p', { class: 'status', id, role: 'status' });
  el.ok = (text) => { el.className = 'status ok'; el.textContent = text; };
  el.fail = (text) => { el.className = 'status error'; el.textContent = text; };
  el.reset = () => { el.className = 'status'; el.textContent = ''; };
  return el;
}

// A value as short text: strings as they are, the rest as JSON.
export function show(v) {
  if (v === undefined) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}
