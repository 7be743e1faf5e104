// API keys (admin): list, create with scopes (the token is shown once), revoke.

import * as api from './api.js';
import { busy, cardTable, clear, confirmDialog, field, h, notify, secretPanel, timeEl } from './ui.js';

const SCOPES = [
  ['read', 'read: apps (without secrets), messages, attempts, usage'],
  ['send', 'send: schedule, change, cancel and redrive messages'],
  ['admin', 'admin: everything, including apps and keys'],
];

export async function render(main, context) {
  const list = h('div', { class: 'scroll' });
  const secrets = h('div');
  main.append(h('h1', {}, 'API keys'), secrets, createForm(secrets, () => refresh()), h('h2', {}, 'Live keys'), list);
  const refresh = async () => {
    const keys = (await api.get('/keys')).items;
    clear(list, keyTable(keys, context, refresh));
  };
  await refresh();
}

function createForm(secrets, refresh) {
  const name = h('input', { type: 'text', required: true, maxlength: '200' });
  const boxes = SCOPES.map(([scope, text]) => {
    const box = h('input', { type: 'checkbox', value: scope, checked: scope === 'read' });
    return h('label', { class: 'inline block' }, box, ` ${text}`);
  });
  const errors = h('div');
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create key');
  const form = h('form', { 'aria-label': 'Create an API key' }, field('Name', name),
    h('fieldset', {}, h('legend', {}, 'Scopes'), boxes), errors, h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(submit, errors, async () => {
      const scopes = [...form.querySelectorAll('input[type=checkbox]:checked')].map((box) => box.value);
      if (!scopes.length) throw Object.assign(new Error(), { words: 'Pick at least one scope.' });
      const { data } = await api.call('POST', '/keys', { body: { name: name.value, scopes } });
      clear(secrets, secretPanel(`API key ${data.name} (${data.scopes.join(', ')})`, data.key,
        'Shown only now: the service keeps only its hash. Revoke it and create another if it is lost.'));
      notify(`Created key ${data.name} (${data.id}).`);
      form.reset();
      await refresh();
      secrets.querySelector('button').focus();
    });
  });
  return h('details', { class: 'card', open: true }, h('summary', {}, 'Create an API key'), form);
}

function keyTable(keys, context, refresh) {
  if (!keys.length) return h('p', { class: 'empty' }, 'No keys.');
  const mine = context.app.me.keyId;
  return cardTable('API keys', ['Name', 'Id', 'Scopes', 'Created', 'Actions'], keys.map((k) => {
      const out = h('div');
      const revoke = h('button', { type: 'button', class: 'danger', 'aria-label': `Revoke ${k.name}` }, 'Revoke');
      revoke.addEventListener('click', async () => {
        const self = k.id === mine;
        const sure = await confirmDialog(`Revoke ${k.name}?`, h('div', {},
          h('p', {}, 'Every request with this key is refused from now on (on AWS within a minute). '
            + 'This cannot be undone.'),
          self ? h('p', { class: 'notice error' }, 'This is the key you are signed in with: you will be signed out.') : null),
        'Revoke key', { danger: true });
        if (!sure) return;
        await busy(revoke, out, async () => {
          await api.call('DELETE', `/keys/${encodeURIComponent(k.id)}`);
          if (self) {
            await context.signOut('You revoked the key you were signed in with.');
            return;
          }
          notify(`Revoked ${k.name}.`);
          await refresh();
        });
      });
      return h('tr', { dataset: { id: k.id } },
        h('td', {}, k.name, k.id === mine ? h('span', { class: 'muted' }, ' (this sign-in)') : null),
        h('td', { class: 'mono small' }, k.id),
        h('td', {}, k.scopes.map((s) => h('span', { class: 'scope' }, s))),
        h('td', {}, timeEl(k.createdAt)),
        h('td', {}, revoke, out));
  }));
}
