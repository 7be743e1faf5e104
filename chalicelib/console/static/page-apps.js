// Apps: list; (admin) create, edit, rotate the signing secret (shown once) and delete.
// Header values are write-only: the API shows "***", and editing headers replaces them all.

import * as api from './api.js';
import { forgetApps, loadApps } from './common.js';
import {
  busy, cardTable, clear, confirmDialog, field, h, notify, secretPanel, timeEl,
} from './ui.js';

export async function render(main, context) {
  const admin = context.can('admin');
  const list = h('div', { class: 'scroll' });
  const secrets = h('div');
  main.append(h('h1', {}, 'Apps'), secrets);
  if (admin) main.append(createForm(secrets, () => refresh()));
  main.append(h('h2', {}, 'Your apps'), list);

  const refresh = async () => {
    forgetApps();
    const apps = await loadApps(true);
    clear(list, apps.length ? appTable(apps, admin, secrets, refresh) : h('p', { class: 'empty' },
      admin ? 'No apps yet: create one above.' : 'No apps yet.'));
  };
  await refresh();
}

function headerRows(container) {
  const rows = h('div', { class: 'header-rows' });
  const add = () => {
    const name = h('input', { type: 'text', placeholder: 'authorization', spellcheck: 'false', autocomplete: 'off' });
    const value = h('input', { type: 'password', autocomplete: 'new-password', spellcheck: 'false' });
    const remove = h('button', { type: 'button', class: 'link', 'aria-label': 'Remove this header' }, 'Remove');
    const row = h('div', { class: 'header-row' }, field('Header name', name), field('Value (write-only)', value), remove);
    remove.addEventListener('click', () => row.remove());
    rows.append(row);
    name.focus();
  };
  container.append(h('fieldset', {}, h('legend', {}, 'Headers sent with every delivery'),
    h('p', { class: 'hint' }, 'Values are stored encrypted and never shown again.'), rows,
    h('button', { type: 'button', onclick: add }, 'Add a header')));
  return () => {
    const headers = {};
    for (const row of rows.querySelectorAll('.header-row')) {
      const [name, value] = row.querySelectorAll('input');
      if (name.value.trim()) headers[name.value.trim()] = value.value;
    }
    return headers;
  };
}

function createForm(secrets, refresh) {
  const name = h('input', { type: 'text', required: true, maxlength: '200' });
  const url = h('input', { type: 'url', required: true, placeholder: 'https://example.com/hooks', spellcheck: 'false' });
  const attempts = h('input', { type: 'number', min: '1', max: '20', value: '8' });
  const headersBox = h('div');
  const headers = headerRows(headersBox);
  const errors = h('div');
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create app');
  const form = h('form', { 'aria-label': 'Create an app' },
    field('Name', name), field('Endpoint URL', url, 'http(s); put credentials in a header, not in the URL.'),
    field('Attempts before giving up', attempts), headersBox, errors, h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(submit, errors, async () => {
      const body = { name: name.value, url: url.value, headers: headers(), retry: { maxAttempts: Number(attempts.value) } };
      const { data } = await api.call('POST', '/apps', { body });
      clear(secrets, secretPanel(`Signing secret of ${data.name}`, data.signingSecret,
        'Receivers verify deliveries with it (Standard Webhooks). It is shown only now; rotate it if it is lost.'));
      notify(`Created app ${data.name} (${data.id}).`);
      form.reset();
      await refresh();
      secrets.querySelector('button').focus();
    });
  });
  return h('details', { class: 'card' }, h('summary', {}, 'Create an app'), form);
}

function appTable(apps, admin, secrets, refresh) {
  const columns = ['Name', 'Endpoint', 'Headers', 'Attempts', 'Created', ...(admin ? ['Actions'] : [])];
  return cardTable('Apps', columns, apps.map((a) => h('tr', { dataset: { id: a.id } },
    h('td', {}, h('strong', {}, a.name), h('br'), h('span', { class: 'mono muted small' }, a.id)),
    h('td', { class: 'mono break' }, a.url),
    h('td', {}, Object.keys(a.headers).join(', ') || '—'),
    h('td', { class: 'num' }, a.retry.maxAttempts),
    h('td', {}, timeEl(a.createdAt)),
    admin ? h('td', { class: 'row-actions' }, appActions(a, secrets, refresh)) : null)));
}

function appActions(app, secrets, refresh) {
  const out = h('div');
  const edit = h('button', { type: 'button', 'aria-label': `Edit ${app.name}` }, 'Edit');
  const rotate = h('button', { type: 'button', 'aria-label': `Rotate the secret of ${app.name}` }, 'Rotate secret');
  const remove = h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${app.name}` }, 'Delete');
  edit.addEventListener('click', () => editDialog(app, refresh));
  rotate.addEventListener('click', async () => {
    const sure = await confirmDialog(`Rotate the signing secret of ${app.name}?`,
      h('p', {}, 'A new secret signs from now on. The old one keeps signing too (both signatures are sent) '
        + 'for 24 hours, so receivers can switch over.'), 'Rotate secret');
    if (!sure) return;
    await busy(rotate, out, async () => {
      const { data } = await api.call('POST', `/apps/${encodeURIComponent(app.id)}/rotate-secret`);
      clear(secrets, secretPanel(`New signing secret of ${data.name}`, data.signingSecret,
        'Shown only now. The previous secret stays valid for 24 hours.'));
      notify(`Rotated the secret of ${data.name}.`);
      secrets.querySelector('button').focus();
    });
  });
  remove.addEventListener('click', () => busy(remove, out, async () => {
    const pending = await api.get('/messages', { appId: app.id, status: 'scheduled', limit: 500 });
    const count = pending.nextCursor ? `${pending.items.length} or more` : String(pending.items.length);
    const sure = await confirmDialog(`Delete ${app.name}?`, h('ul', {},
      h('li', {}, `Its ${count} scheduled message(s) are cancelled (reason: app deleted) and cannot be redriven.`),
      h('li', {}, 'Nothing more is delivered to its endpoint, including retries, from the moment this returns.'),
      h('li', {}, 'Its signing secret and header values are destroyed. This cannot be undone.'),
      h('li', {}, 'Delivered messages and their attempts stay visible until retention removes them.')),
    'Delete app', { danger: true });
    if (!sure) return;
    await api.call('DELETE', `/apps/${encodeURIComponent(app.id)}`);
    notify(`Deleted ${app.name}; its scheduled messages were cancelled.`);
    await refresh();
  }));
  return [h('div', { class: 'actions' }, edit, rotate, remove), out];
}

function editDialog(app, refresh) {
  const name = h('input', { type: 'text', required: true, value: app.name });
  const url = h('input', { type: 'url', required: true, value: app.url, spellcheck: 'false' });
  const attempts = h('input', { type: 'number', min: '1', max: '20', value: String(app.retry.maxAttempts) });
  const replace = h('input', { type: 'checkbox' });
  const headersBox = h('div', { hidden: true });
  const headers = headerRows(headersBox);
  replace.addEventListener('change', () => {
    headersBox.hidden = !replace.checked;
  });
  const errors = h('div');
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
  const cancel = h('button', { type: 'button' }, 'Cancel');
  const titleId = `edit-${app.id}`;
  const form = h('form', {}, field('Name', name),
    field('Endpoint URL', url, 'Query values are shown as *** (they are write-only, like header values); left as *** they stay as they are.'),
    field('Attempts before giving up', attempts),
    h('label', { class: 'inline' }, replace,
      ` Replace the headers (now: ${Object.keys(app.headers).join(', ') || 'none'}); values must be entered again`),
    headersBox, errors, h('div', { class: 'actions' }, cancel, save));
  const dialog = h('dialog', { 'aria-labelledby': titleId }, h('h2', { id: titleId }, `Edit ${app.name}`), form);
  const close = () => {
    dialog.close();
    dialog.remove();
  };
  cancel.addEventListener('click', close);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(save, errors, async () => {
      const body = { name: name.value, url: url.value, retry: { maxAttempts: Number(attempts.value) } };
      if (replace.checked) body.headers = headers();
      await api.call('PATCH', `/apps/${encodeURIComponent(app.id)}`, { body });
      close();
      notify(`Saved ${body.name}.`);
      await refresh();
    });
  });
  document.body.append(dialog);
  dialog.showModal();
  name.focus();
}

