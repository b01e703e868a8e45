// Security: the principals (names and roles; GET/POST/PUT/DELETE
// /api/v1/principals) and roles (permissions and includes; GET/PUT/DELETE
// /api/v1/roles) of the security store. Changes need MODIFY_SECURITY: the
// server refuses them otherwise, and the page says so.

import { api } from '../api.js';
import { h, clear, show, statusLine } from '../dom.js';

const csv = (s) => s.split(',').map((x) => x.trim()).filter((x) => x);

// Roles as the answer gives them: a list of {name, ...} or an object by name.
function roleList(r) {
  const roles = r.roles || [];
  if (Array.isArray(roles)) return roles;
  return Object.entries(roles).map(([name, v]) => ({ name, ...v }));
}

export function render(el) {
  const status = statusLine('security-status');
  const principalsBody = h('tbody');
  const rolesBody = h('tbody');
  let principals = [];

  const pName = h('input', { id: 'principal-name', autocomplete: 'off' });
  const pPassword = h('input', { id: 'principal-password', type: 'password', autocomplete: 'new-password' });
  const pRoles = h('input', { id: 'principal-roles', placeholder: 'OPERATOR, CLIENT' });
  const rName = h('input', { id: 'role-name' });
  const rPerms = h('textarea', { id: 'role-permissions', class: 'mono', placeholder: '{"global": ["VIEW_SESSION"], "paths": {"plant": ["READ_TOPIC"]}}' });
  const rIncludes = h('input', { id: 'role-includes', placeholder: 'CLIENT' });

  el.append(h('h1', {}, 'Security'), status,
    h('div', { class: 'split' },
      h('div', {},
        h('div', { class: 'card' }, h('h2', {}, 'Principals'),
          h('table', { id: 'principals-table' },
            h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Roles'), h('th'))), principalsBody)),
        h('form', { class: 'card', id: 'principal-form' }, h('h2', {}, 'Add or change a principal'),
          h('label', {}, 'Name', pName),
          h('label', {}, 'Password (empty: unchanged)', pPassword),
          h('label', {}, 'Roles (comma-separated)', pRoles),
          h('button', { type: 'submit', id: 'principal-save' }, 'Save'))),
      h('div', {},
        h('div', { class: 'card' }, h('h2', {}, 'Roles'),
          h('table', { id: 'roles-table' },
            h('thead', {}, h('tr', {}, h('th', {}, 'Role'), h('th', {}, 'Permissions'), h('th', {}, 'Includes'), h('th'))),
            rolesBody)),
        h('form', { class: 'card', id: 'role-form' }, h('h2', {}, 'Add or replace a role'),
          h('label', {}, 'Name', rName),
          h('label', {}, 'Permissions (JSON, as the store has them)', rPerms),
          h('label', {}, 'Includes (comma-separated)', rIncludes),
          h('button', { type: 'submit', id: 'role-save' }, 'Save')))));

  async function load() {
    try {
      const r = await api.get('/principals');
      principals = r.principals || [];
      clear(principalsBody);
      for (const p of principals) {
        principalsBody.append(h('tr', {
          class: 'clickable', dataset: { name: p.name },
          onclick: () => { pName.value = p.name; pRoles.value = (p.roles || []).join(', '); pPassword.value = ''; },
        },
        h('td', { class: 'mono' }, p.name), h('td', {}, (p.roles || []).join(', ')),
        h('td', {}, h('button', {
          class: 'danger', type: 'button',
          onclick: (ev) => { ev.stopPropagation(); removePrincipal(p.name); },
        }, 'Remove'))));
      }
    } catch (e) {
      clear(principalsBody).append(h('tr', {}, h('td', { colspan: 3, class: 'error' }, `${e.code}: ${e.message}`)));
    }
    try {
      const r = await api.get('/roles');
      clear(rolesBody);
      for (const role of roleList(r)) {
        const { name, includes, ...rest } = role;
        const perms = rest.permissions !== undefined ? rest.permissions : rest;
        rolesBody.append(h('tr', {
          class: 'clickable', dataset: { name },
          onclick: () => {
            rName.value = name;
            rPerms.value = JSON.stringify(perms, null, 2);
            rIncludes.value = (includes || []).join(', ');
          },
        },
        h('td', { class: 'mono' }, name),
        h('td', {}, h('pre', { class: 'mono' }, show(perms))),
        h('td', {}, (includes || []).join(', ')),
        h('td', {}, h('button', {
          class: 'danger', type: 'button',
          onclick: (ev) => { ev.stopPropagation(); removeRole(name); },
        }, 'Remove'))));
      }
    } catch (e) {
      clear(rolesBody).append(h('tr', {}, h('td', { colspan: 4, class: 'error' }, `${e.code}: ${e.message}`)));
    }
  }

  async function act(what, fn) {
    try {
      await fn();
      status.ok(what);
      await load();
    } catch (e) {
      status.fail(`${e.code}: ${e.message}`);
    }
  }

  const removePrincipal = (name) => act(`Removed ${name}.`,
    () => api.del(`/principals/${encodeURIComponent(name)}`));
  const removeRole = (name) => act(`Removed role ${name}.`,
    () => api.del(`/roles/${encodeURIComponent(name)}`));

  el.querySelector('#principal-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = pName.value.trim();
    const roles = csv(pRoles.value);
    const exists = principals.some((p) => p.name === name);
    act(exists ? `Changed ${name}.` : `Added ${name}.`, () => {
      if (!exists) return api.post('/principals', { name, password: pPassword.value, roles });
      const body = { roles };
      if (pPassword.value) body.password = pPassword.value;
      return api.put(`/principals/${encodeURIComponent(name)}`, body);
    }).then(() => { pPassword.value = ''; });
  });

  el.querySelector('#role-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = rName.value.trim();
    let body;
    try {
      const perms = rPerms.value.trim() ? JSON.parse(rPerms.value) : {};
      body = Array.isArray(perms) ? { permissions: perms } : { ...perms };
      if (!Array.isArray(perms) && !('permissions' in perms) && !('global' in perms) && !('paths' in perms)
        && !('default_path' in perms)) {
        body = { permissions: perms };
      }
    } catch (e) {
      status.fail(`Permissions are not valid JSON: ${e.message}`);
      return;
    }
    body.includes = csv(rIncludes.value);
    act(`Saved role ${name}.`, () => api.put(`/roles/${encodeURIComponent(name)}`, body));
  });

  load();
  return null;
}
