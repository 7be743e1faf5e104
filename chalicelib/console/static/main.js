// The console's entry point: sign-in state, the navigation bar and the hash router (#/messages, ...).

import * as api from './api.js';
import * as auth from './auth.js';
import { ageNotice, clear, h, notify } from './ui.js';
import * as signin from './page-signin.js';
import * as messages from './page-messages.js';
import * as message from './page-message.js';
import * as apps from './page-apps.js';
import * as keys from './page-keys.js';
import * as usage from './page-usage.js';
import * as tail from './page-tail.js';

const PAGES = [
  { path: 'messages', title: 'Messages', page: messages, scope: 'read' },
  { path: 'apps', title: 'Apps', page: apps, scope: 'read' },
  { path: 'keys', title: 'API keys', page: keys, scope: 'admin' },
  { path: 'usage', title: 'Usage', page: usage, scope: 'read' },
  { path: 'tail', title: 'Live tail', page: tail, scope: 'read' },
];

const app = { config: { signIn: ['apiKey'] }, session: null, me: null, cleanup: null };

function can(scope) {
  const scopes = (app.me && app.me.scopes) || [];
  return scopes.includes('admin') || scopes.includes(scope);
}

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

export async function signOut(reason) {
  const wasCognito = app.session && app.session.kind === 'cognito';
  auth.clear();
  app.session = null;
  app.me = null;
  if (wasCognito && app.config.cognito && !reason) {
    location.assign(auth.cognitoLogoutUrl(app.config.cognito));
    return;
  }
  if (reason) notify(reason, 'error');
  else notify('Signed out. The key is no longer kept in this tab.');
  await route();
}

async function signIn(session) {
  auth.save(session);
  app.session = session;
  try {
    app.me = await api.get('/me', undefined, { quiet401: true });
  } catch (err) {
    auth.clear();
    app.session = null;
    throw err;
  }
  clear(document.getElementById('status'));
  navigate(location.hash && location.hash !== '#/signin' ? location.hash : '#/messages');
}

function renderChrome(current) {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  if (!app.me) {
    nav.hidden = true;
    clear(who);
    return;
  }
  nav.hidden = false;
  clear(nav, h('ul', {}, PAGES.filter((p) => can(p.scope)).map((p) => h('li', {},
    h('a', { href: `#/${p.path}`, 'aria-current': p.path === current ? 'page' : false }, p.title)))));
  const label = app.session.kind === 'cognito' ? 'Cognito user' : `key ${app.me.keyId || ''}`;
  clear(who,
    h('span', { class: 'muted' }, `${label} · tenant ${app.me.tenantId} · `),
    h('span', { class: 'scopes', 'aria-label': 'Scopes of this sign-in' },
      app.me.scopes.map((scope) => h('span', { class: 'scope' }, scope))),
    h('button', { type: 'button', class: 'link', onclick: () => signOut() }, 'Sign out'));
}

async function route() {
  const hash = location.hash;
  if (hash && !hash.startsWith('#/')) return; // an in-page anchor such as the skip link
  if (app.cleanup) {
    app.cleanup();
    app.cleanup = null;
  }
  const main = document.getElementById('main');
  const [path, id] = (hash.slice(2) || 'messages').split('?')[0].split('/');
  const context = { app, can, navigate, signIn, signOut, query: new URLSearchParams(hash.split('?')[1] || '') };
  let page = signin;
  let current = 'signin';
  if (app.me) {
    const entry = PAGES.find((p) => p.path === path && can(p.scope)) || PAGES[0];
    page = path === 'messages' && id ? message : entry.page;
    current = entry.path;
    context.id = id;
  }
  renderChrome(current);
  ageNotice();
  clear(main);
  const title = current === 'signin' ? 'Sign in' : (PAGES.find((p) => p.path === current) || PAGES[0]).title;
  document.title = `${title} · Scheduler console`;
  try {
    app.cleanup = (await page.render(main, context)) || null;
  } catch (err) {
    main.append(h('p', { class: 'notice error', role: 'alert' }, err.words || String(err)));
  }
  const heading = main.querySelector('h1');
  if (heading && !main.contains(document.activeElement)) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

async function boot() {
  api.configure({
    token: () => app.session && app.session.token,
    unauthorized: () => signOut('Signed out: the API no longer accepts this key or token (revoked or expired). Sign in again.'),
  });
  try {
    app.config = await fetch(`${api.apiBase()}/console/config.json`, { cache: 'no-store' }).then((r) => r.json());
  } catch {
    notify('The console settings could not be loaded; only API-key sign-in is offered.', 'error');
  }
  const params = new URLSearchParams(location.search);
  if (app.config.cognito && (params.has('code') || params.has('error'))) {
    try {
      await auth.finishCognito(app.config.cognito, params);
    } catch (err) {
      notify(err.words || String(err), 'error');
    }
  }
  app.session = auth.load();
  if (app.session) {
    try {
      app.me = await api.get('/me', undefined, { quiet401: true });
    } catch (err) {
      auth.clear();
      app.session = null;
      notify(err.words || String(err), 'error');
    }
  }
  window.addEventListener('hashchange', route);
  await route();
}

boot();
