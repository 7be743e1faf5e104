// Sign in: with an API key (kept in this tab's sessionStorage only) or, on AWS, Cognito's hosted UI.

import * as auth from './auth.js';
import { busy, field, h } from './ui.js';

export async function render(main, context) {
  const { app, signIn } = context;
  const keyInput = h('input', {
    type: 'password', name: 'api-key', autocomplete: 'off', required: true, spellcheck: 'false',
    placeholder: 'sk_…',
  });
  const errors = h('div');
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'card narrow', 'aria-label': 'Sign in with an API key' },
    h('h2', {}, 'With an API key'),
    field('API key', keyInput, 'Locally, `make run` prints the admin key (also in .scheduler/admin-key). '
      + 'It stays in this browser tab only and is forgotten when the tab closes.'),
    errors, h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(submit, errors, () => signIn({ kind: 'apiKey', token: keyInput.value.trim() }));
  });
  main.append(h('h1', {}, 'Sign in'), form);
  if (app.config.cognito) {
    const go = h('button', { type: 'button', class: 'primary' }, 'Sign in with Cognito');
    const cognitoErrors = h('div');
    go.addEventListener('click', () => busy(go, cognitoErrors, () => auth.startCognito(app.config.cognito)));
    main.append(h('section', { class: 'card narrow', 'aria-label': 'Sign in with Cognito' },
      h('h2', {}, 'With your account'),
      h('p', {}, 'Sign in or sign up on the hosted page; you come back here as an admin of your tenant.'),
      cognitoErrors, h('div', { class: 'actions' }, go)));
  }
  keyInput.focus();
}
