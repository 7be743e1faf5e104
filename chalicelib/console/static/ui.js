// DOM helpers, formatting, notices, dialogs and the time-zone-aware date-time picker.
// Everything is built with DOM calls (never from HTML strings): the Content-Security-Policy allows no inline code,
// and API data can never become markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'class') el.className = value;
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else if (name === 'checked' || name === 'selected') el.setAttribute(name, ''); // the default: form.reset() keeps it
    else if (name in el && typeof value !== 'string') el[name] = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let uid = 0;
export function nextId(prefix = 'f') {
  uid += 1;
  return `${prefix}-${uid}`;
}

// A labelled form field: the label is tied to the control by id, a hint by aria-describedby.
export function field(labelText, control, hint) {
  control.id ||= nextId();
  const parts = [h('label', { for: control.id }, labelText), control];
  if (hint) {
    const hintEl = h('small', { id: nextId('hint'), class: 'hint' }, hint);
    control.setAttribute('aria-describedby', hintEl.id);
    parts.push(hintEl);
  }
  return h('div', { class: 'field' }, parts);
}

// A table that turns into one card per row on narrow screens: each cell is labelled by its column.
export function cardTable(caption, columns, rows, attrs = {}) {
  const table = h('table', { ...attrs, class: `cards ${attrs.class || ''}`.trim() },
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, columns.map((title) => h('th', { scope: 'col' }, title)))),
    h('tbody', {}, rows));
  labelCells(table);
  return table;
}

export function labelCells(table) {
  const titles = [...table.querySelectorAll('thead th')].map((th) => th.textContent);
  for (const tr of table.querySelectorAll('tbody tr')) {
    [...tr.children].forEach((cell, i) => {
      cell.dataset.label = titles[i] || '';
    });
  }
}

export function select(options, value, attrs = {}) {
  return h('select', attrs, options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
}

// ---- notices -------------------------------------------------------------------------------

// A notice in the page's status region; it stays for the next page shown, then goes.
export function notify(message, kind = 'ok') {
  const region = document.getElementById('status');
  region.dataset.fresh = '1';
  clear(region, h('p', { class: `notice ${kind}` }, message));
}

export function ageNotice() {
  const region = document.getElementById('status');
  if (region.dataset.fresh) delete region.dataset.fresh;
  else region.replaceChildren();
}

export function errorText(err) {
  if (err && err.words) return err.words;
  return `Something went wrong: ${err && err.message ? err.message : err}`;
}

// An error box inside a form or page (role=alert: read out at once).
export function errorBox(err) {
  return h('p', { class: 'notice error', role: 'alert' }, errorText(err));
}

// Run an async action from a button: disable it meanwhile, show failures next to it.
export async function busy(button, target, action) {
  button.disabled = true;
  target.replaceChildren();
  try {
    return await action();
  } catch (err) {
    target.append(errorBox(err));
    return undefined;
  } finally {
    button.disabled = false;
  }
}

// ---- dialogs -------------------------------------------------------------------------------

// A modal confirmation (<dialog>: focus is kept inside, Escape cancels). Resolves true or false.
export function confirmDialog(title, body, confirmLabel, { danger = false } = {}) {
  return new Promise((resolve) => {
    const titleId = nextId('dlg');
    const ok = h('button', { type: 'button', class: danger ? 'danger' : 'primary' }, confirmLabel);
    const cancel = h('button', { type: 'button' }, 'Cancel');
    const dialog = h('dialog', { 'aria-labelledby': titleId }, h('h2', { id: titleId }, title), body,
      h('div', { class: 'actions' }, cancel, ok));
    const done = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    ok.addEventListener('click', () => done(true));
    cancel.addEventListener('click', () => done(false));
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      done(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

// A secret shown once: read-only field, copy button, and a reminder that it will not be shown again.
export function secretPanel(title, value, explanation) {
  const input = h('input', { type: 'text', readOnly: true, value, class: 'secret', spellcheck: 'false' });
  const feedback = h('span', { class: 'muted', 'aria-live': 'polite' });
  const copy = h('button', { type: 'button', class: 'primary' }, 'Copy');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(value);
      feedback.textContent = 'Copied.';
    } catch {
      input.select();
      feedback.textContent = 'Selected: press Ctrl+C (or ⌘C) to copy.';
    }
  });
  const panel = h('section', { class: 'secret-panel', 'aria-label': title },
    h('h3', {}, title), h('p', {}, explanation), field('Value (shown once)', input),
    h('div', { class: 'actions' }, copy, feedback,
      h('button', { type: 'button', onclick: () => panel.remove() }, 'I have saved it')));
  return panel;
}

// ---- formatting ----------------------------------------------------------------------------

export function browserZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

export function zones() {
  const all = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  const list = new Set(['UTC', browserZone(), ...all]);
  return [...list];
}

export function formatTime(iso, zone = browserZone()) {
  if (!iso) return '—';
  const date = new Date(iso);
  return new Intl.DateTimeFormat(undefined, {
    timeZone: zone, year: 'numeric', month: 'short', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
  }).format(date);
}

export function timeEl(iso, zone) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: iso, title: iso }, formatTime(iso, zone));
}

export function formatLate(ms) {
  if (ms === null || ms === undefined) return '—';
  if (Math.abs(ms) < 1000) return `${ms} ms`;
  if (Math.abs(ms) < 120000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60000)} min`;
}

export function formatNumber(n) {
  return n === null || n === undefined ? 'no limit' : new Intl.NumberFormat().format(n);
}

export function statusBadge(status) {
  return h('span', { class: `badge ${status}` }, status);
}

const REASONS = {
  gone: 'the endpoint answered 410 Gone',
  exhausted: 'every attempt failed',
  expired: 'not delivered by its notAfter time',
  app_deleted: 'its app was deleted',
};

export function reasonText(reason) {
  return reason ? REASONS[reason] || reason : '—';
}

// ---- time zones ----------------------------------------------------------------------------

// Offset of `zone` from UTC at the instant `ms`, in minutes.
function zoneOffset(ms, zone) {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(new Date(ms));
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60000);
}

// "2026-12-01T10:00" (wall time in `zone`) -> the UTC instant (ms). Two passes settle DST edges.
export function zonedToUtc(localValue, zone) {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(localValue || '');
  if (!match) return null;
  const [, y, mo, d, hh, mm, ss] = match.map(Number);
  const wall = Date.UTC(y, mo - 1, d, hh, mm, ss || 0);
  let guess = wall - zoneOffset(wall, zone) * 60000;
  guess = wall - zoneOffset(guess, zone) * 60000;
  return guess;
}

// The UTC instant `ms` as "YYYY-MM-DDTHH:MM:SS" wall time in `zone` (for datetime-local inputs).
export function utcToZoned(ms, zone) {
  const shifted = new Date(ms + zoneOffset(ms, zone) * 60000);
  return shifted.toISOString().slice(0, 19);
}

// A date-time picker with a time-zone selector; `value()` is the RFC 3339 UTC time or null.
export function zonedPicker(labelText, initialIso) {
  const zone = select(zones().map((z) => [z, z]), browserZone());
  const input = h('input', { type: 'datetime-local', step: '1', required: true });
  const preview = h('small', { class: 'hint', 'aria-live': 'polite' });
  let instant = initialIso ? Date.parse(initialIso) : Date.now() + 60000;
  const show = () => {
    const ms = zonedToUtc(input.value, zone.value);
    preview.textContent = ms === null ? 'Pick a date and time.' : `= ${new Date(ms).toISOString()} (UTC)`;
  };
  const fill = () => {
    input.value = utcToZoned(instant, zone.value);
    show();
  };
  input.addEventListener('input', () => {
    const ms = zonedToUtc(input.value, zone.value);
    if (ms !== null) instant = ms;
    show();
  });
  zone.addEventListener('change', fill); // same instant, shown in the new zone
  fill();
  const el = h('fieldset', { class: 'picker' }, h('legend', {}, labelText),
    field('Date and time', input), field('Time zone', zone), preview);
  return {
    el,
    input,
    zone,
    value: () => {
      const ms = zonedToUtc(input.value, zone.value);
      return ms === null ? null : new Date(ms).toISOString();
    },
  };
}
