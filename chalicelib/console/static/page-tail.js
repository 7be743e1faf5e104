// Live tail of delivery attempts: follows GET /attempts from "now" (after=latest), newest on top.

import * as api from './api.js';
import { appName, loadApps } from './common.js';
import { cardTable, clear, errorBox, field, h, labelCells, select, timeEl } from './ui.js';

const KEEP = 200;

export async function render(main) {
  const apps = await loadApps(true);
  const appFilter = select([['', 'All apps'], ...apps.map((a) => [a.id, a.name])], '');
  const pause = h('button', { type: 'button', 'aria-pressed': 'false' }, 'Pause');
  const count = h('span', { class: 'muted', 'aria-live': 'polite' });
  const table = cardTable('Attempts, newest first', ['Started', 'Message', 'App', 'Attempt', 'Outcome', 'Duration'],
    [], { class: 'tail' });
  const rows = table.querySelector('tbody');
  const errors = h('div');
  main.append(h('h1', {}, 'Live tail'),
    h('p', { class: 'muted' }, 'Attempts appear here as they are recorded, from the moment this page opened.'),
    h('div', { class: 'filters' }, field('App', appFilter), h('div', { class: 'actions' }, pause, count)),
    errors,
    h('div', { class: 'scroll' }, table));

  let stopped = false;
  let paused = false;
  let timer = null;
  let cursor = null;
  let seen = 0;
  const start = async () => {
    cursor = (await api.get('/attempts', { after: 'latest', appId: appFilter.value || undefined })).resumeCursor;
  };
  const tick = async () => {
    if (stopped) return;
    let wait = 1000;
    if (!paused && !document.hidden) {
      try {
        if (cursor === null) await start();
        const page = await api.get('/attempts', { after: cursor, limit: 100, appId: appFilter.value || undefined });
        for (const attempt of page.items) rows.prepend(row(attempt, apps));
        if (page.items.length) labelCells(table);
        while (rows.children.length > KEEP) rows.lastElementChild.remove();
        seen += page.items.length;
        count.textContent = `${seen} attempt(s) seen`;
        cursor = page.nextCursor || page.resumeCursor || cursor;
        if (page.nextCursor) wait = 0;
        clear(errors);
      } catch (err) {
        clear(errors, errorBox(err));
        wait = 3000;
      }
    }
    if (!stopped) timer = setTimeout(tick, wait);
  };
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-pressed', String(paused));
  });
  appFilter.addEventListener('change', () => {
    cursor = null;
    rows.replaceChildren();
  });
  await start();
  timer = setTimeout(tick, 0);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function row(a, apps) {
  const ok = a.statusCode !== null && a.statusCode >= 200 && a.statusCode < 300;
  return h('tr', { class: ok ? 'ok' : 'bad' },
    h('td', {}, timeEl(a.startedAt)),
    h('td', {}, h('a', { href: `#/messages/${a.messageId}`, class: 'mono' }, a.messageId)),
    h('td', {}, appName(apps, a.appId)),
    h('td', { class: 'num' }, `#${a.n}`),
    h('td', {}, h('span', { class: ok ? 'good' : 'warn' }, a.statusCode !== null ? `HTTP ${a.statusCode}` : a.error || 'error')),
    h('td', { class: 'num' }, `${a.durationMs} ms`));
}
