// The console: a login, then one page at a time by the URL's fragment
// (#/overview, #/topics, #/sessions, #/security, #/publish). Each page's
// render(container) returns a function that stops its timers and
// subscriptions when another page replaces it.

import {
  checkLogin, credentials, forgetCredentials, saveCredentials, setUnauthorizedHandler,
} from './api.js';
import { clear } from './dom.js';
import { disconnectLive } from './live.js';
import * as overview from './pages/overview.js';
import * as topics from './pages/topics.js';
import * as sessions from './pages/sessions.js';
import * as security from './pages/security.js';
import * as publish from './pages/publish.js';

const pages = { overview, topics, sessions, security, publish };
const $ = (id) => document.getElementById(id);
let stopPage = null;

function showLogin(message) {
  if (stopPage) { stopPage(); stopPage = null; }
  disconnectLive();
  clear($('page'));
  $('nav').hidden = true;
  $('logout').hidden = true;
  $('who').textContent = '';
  $('login').hidden = false;
  const err = $('login-error');
  err.hidden = !message;
  err.textContent = message || '';
  $('login-name').focus();
}

function route() {
  const c = credentials();
  if (!c) { showLogin(); return; }
  $('login').hidden = true;
  $('nav').hidden = false;
  $('logout').hidden = false;
  $('who').textContent = c.name ? `Logged in as ${c.name}` : 'Anonymous';
  const name = (location.hash.match(/^#\/(\w+)/) || [])[1] || 'overview';
  const page = pages[name] || overview;
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', a.dataset.page === name);
  }
  if (stopPage) stopPage();
  const el = clear($('page'));
  el.dataset.page = name;
  stopPage = page.render(el) || null;
  document.title = `Castor console: ${name}`;
}

$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const name = $('login-name').value.trim();
  const password = $('login-password').value;
  const button = $('login-submit');
  button.disabled = true;
  $('login-error').hidden = true;
  try {
    const r = await checkLogin(name, password);
    if (!r.ok) {
      showLogin(r.error.status === 401
        ? 'The server refused the name or password.'
        : r.error.message);
      return;
    }
    saveCredentials(name, password);
    $('login-password').value = '';
    if (!location.hash || location.hash === '#/') location.hash = '#/overview';
    route();
  } finally {
    button.disabled = false;
  }
});

$('logout').addEventListener('click', () => {
  forgetCredentials();
  showLogin();
});

setUnauthorizedHandler(() => {
  forgetCredentials();
  showLogin('The server no longer accepts these credentials: log in again.');
});

window.addEventListener('hashchange', route);
route();
