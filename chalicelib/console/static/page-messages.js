// Messages: schedule one (send scope), filter by app, status and time range, page by cursor, live refresh.

import * as api from './api.js';
import { appName, loadApps, poll } from './common.js';
import {
  browserZone, busy, cardTable, clear, errorBox, field, formatLate, h, notify, select, statusBadge, timeEl, zonedPicker,
  zonedToUtc, zones,
} from './ui.js';

const STATUSES = ['scheduled', 'delivering', 'delivered', 'failed', 'cancelled'];
const PAGE_SIZE = 25;

export async function render(main, context) {
  const apps = await loadApps(true);
  main.append(h('h1', {}, 'Messages'));
  if (context.can('send')) main.append(scheduleForm(apps, context));

  const query = context.query;
  const filters = {
    appId: select([['', 'All apps'], ...apps.map((a) => [a.id, a.name])], query.get('appId') || ''),
    status: select([['', 'Any status'], ...STATUSES.map((s) => [s, s])], query.get('status') || ''),
    after: h('input', { type: 'datetime-local', step: '1' }),
    before: h('input', { type: 'datetime-local', step: '1' }),
    zone: select(zones().map((z) => [z, z]), browserZone()),
  };
  const live = h('input', { type: 'checkbox', checked: true });
  const filterForm = h('form', { class: 'filters', 'aria-label': 'Filter messages' },
    field('App', filters.appId), field('Status', filters.status),
    field('Send at or after', filters.after), field('Send at or before', filters.before),
    field('Time zone', filters.zone),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Apply'),
      h('label', { class: 'inline' }, live, ' Live refresh')));

  const table = h('div', { class: 'scroll' });
  const pager = h('div', { class: 'actions pager' });
  const errors = h('div');
  const updated = h('p', { class: 'muted small', 'aria-live': 'off' });
  main.append(filterForm, errors, table, pager, updated);

  const cursors = [null]; // cursors[i]: the cursor of page i
  let pageIndex = 0;
  let nextCursor = null;
  let lastShown = null;

  const currentQuery = () => {
    const zone = filters.zone.value;
    const at = (input) => {
      const ms = zonedToUtc(input.value, zone);
      return ms === null ? undefined : new Date(ms).toISOString();
    };
    return {
      appId: filters.appId.value || undefined,
      status: filters.status.value || undefined,
      sendAfter: at(filters.after),
      sendBefore: at(filters.before),
      limit: PAGE_SIZE,
      cursor: cursors[pageIndex] || undefined,
    };
  };

  const load = async () => {
    try {
      const page = await api.get('/messages', currentQuery());
      clear(errors);
      const shown = JSON.stringify([page, filters.zone.value, pageIndex]);
      if (shown !== lastShown) { // unchanged pages are left alone, so focus and selection stay put
        lastShown = shown;
        nextCursor = page.nextCursor;
        clear(table, messageTable(page.items, apps, filters.zone.value));
        renderPager();
      }
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      clear(errors, errorBox(err));
      throw err;
    }
  };

  const renderPager = () => {
    const previous = h('button', { type: 'button', disabled: pageIndex === 0 }, '← Previous page');
    const next = h('button', { type: 'button', disabled: !nextCursor }, 'Next page →');
    previous.addEventListener('click', () => {
      pageIndex -= 1;
      load();
    });
    next.addEventListener('click', () => {
      cursors[pageIndex + 1] = nextCursor;
      pageIndex += 1;
      load();
    });
    clear(pager, previous, h('span', { class: 'muted' }, `Page ${pageIndex + 1}`), next);
  };

  filterForm.addEventListener('submit', (event) => {
    event.preventDefault();
    cursors.length = 1;
    pageIndex = 0;
    load();
  });
  await load().catch(() => {});
  const stop = poll(() => (live.checked ? load() : undefined), 3000);
  return stop;
}

function messageTable(items, apps, zone) {
  if (!items.length) return h('p', { class: 'empty' }, 'No messages match these filters.');
  return cardTable('Messages by send time', ['Message', 'App', 'Status', 'Send at', 'Lateness', 'Attempts'],
    items.map((m) => h('tr', { dataset: { id: m.id } },
      h('td', {}, h('a', { href: `#/messages/${m.id}`, class: 'mono' }, m.id)),
      h('td', {}, appName(apps, m.appId)),
      h('td', {}, statusBadge(m.status)),
      h('td', {}, timeEl(m.sendAt, zone)),
      h('td', { class: 'num' }, formatLate(m.lateMs)),
      h('td', { class: 'num' }, `${m.attempts}/${m.maxAttempts}`))));
}

function scheduleForm(apps, context) {
  const appSelect = select(apps.map((a) => [a.id, a.name]), apps.length ? apps[0].id : '', { required: true });
  const payload = h('textarea', { rows: 4, spellcheck: 'false', class: 'mono' }, '{\n  "hello": "world"\n}');
  const whenDelay = h('input', { type: 'radio', name: 'when', value: 'delay', checked: true });
  const whenAt = h('input', { type: 'radio', name: 'when', value: 'at' });
  const delay = h('input', { type: 'number', min: '0', step: 'any', value: '5', inputmode: 'decimal' });
  const picker = zonedPicker('Send at');
  const delayField = field('Delay (seconds)', delay);
  picker.el.hidden = true;
  const toggle = () => {
    delayField.hidden = !whenDelay.checked;
    picker.el.hidden = whenDelay.checked;
  };
  whenDelay.addEventListener('change', toggle);
  whenAt.addEventListener('change', toggle);
  const errors = h('div');
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Schedule');
  const form = h('form', { 'aria-label': 'Schedule a message' },
    field('App', appSelect),
    field('Payload (JSON)', payload, 'Any JSON value, up to 256 KiB.'),
    h('fieldset', { class: 'inline-choices' }, h('legend', {}, 'When'),
      h('label', { class: 'inline' }, whenDelay, ' After a delay'),
      h('label', { class: 'inline' }, whenAt, ' At a time')),
    delayField, picker.el, errors, h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(submit, errors, async () => {
      let body;
      try {
        body = { appId: appSelect.value, payload: JSON.parse(payload.value) };
      } catch (err) {
        throw Object.assign(new Error(), { words: `The payload is not valid JSON: ${err.message}` });
      }
      if (!body.appId) throw Object.assign(new Error(), { words: 'Create an app first (Apps page).' });
      if (whenDelay.checked) body.delaySeconds = Number(delay.value);
      else body.sendAt = picker.value();
      const { data } = await api.call('POST', '/messages', { body });
      notify(h('span', {}, 'Scheduled ', h('a', { href: `#/messages/${data.id}` }, data.id), ` for ${data.sendAt}.`));
      context.navigate(`#/messages/${data.id}`);
    });
  });
  return h('details', { class: 'card' }, h('summary', {}, 'Schedule a message'),
    apps.length ? form : h('p', {}, 'Create an app first: ', h('a', { href: '#/apps' }, 'Apps'), '.'));
}
