// One message: its details and payload, the timeline of attempts, and (send scope) cancel, redrive and
// reschedule. Reschedule sends If-Match with the etag of the state on screen: a change made elsewhere
// in between is a 409, shown in words, and the page reloads the message.

import * as api from './api.js';
import { appName, loadApps, poll } from './common.js';
import {
  busy, clear, confirmDialog, errorBox, formatLate, h, notify, reasonText, statusBadge, timeEl, zonedPicker,
} from './ui.js';

const FINISHED = ['delivered', 'failed', 'cancelled'];

export async function render(main, context) {
  const id = context.id;
  const apps = await loadApps();
  const state = { message: null, etag: null, attempts: [] };
  const heading = h('h1', {}, 'Message ', h('span', { class: 'mono' }, id));
  const details = h('div');
  const actions = h('section', { class: 'card', 'aria-label': 'Actions' });
  const payload = h('pre', { class: 'payload', tabindex: '0', 'aria-label': 'Payload' });
  const timeline = h('ol', { class: 'timeline' });
  const errors = h('div');
  const out = h('div'); // outcome of the last action: kept across re-renders of the actions
  const live = h('input', { type: 'checkbox', checked: true });
  main.append(
    h('p', {}, h('a', { href: '#/messages' }, '← All messages')),
    heading, errors, details,
    h('label', { class: 'inline' }, live, ' Live refresh'),
  );
  if (context.can('send')) main.append(actions, out);
  else main.append(h('p', { class: 'muted' }, 'This key has no send scope: it can look at messages, not change them.'));
  main.append(h('h2', {}, 'Payload'), payload, h('h2', {}, 'Attempts'), timeline);

  const load = async () => {
    try {
      const [one, attempts] = await Promise.all([
        api.call('GET', `/messages/${encodeURIComponent(id)}`),
        api.get(`/messages/${encodeURIComponent(id)}/attempts`),
      ]);
      const changed = !state.message || one.etag !== state.etag || attempts.items.length !== state.attempts.length;
      state.message = one.data;
      state.etag = one.etag || one.data.etag;
      state.attempts = attempts.items;
      clear(errors);
      if (changed) show();
    } catch (err) {
      clear(errors, errorBox(err));
      throw err;
    }
  };

  const show = () => {
    const m = state.message;
    clear(details, describe(m, apps));
    payload.textContent = JSON.stringify(m.payload, null, 2);
    clear(timeline, state.attempts.length
      ? state.attempts.map(attemptItem)
      : h('li', { class: 'empty' }, m.status === 'scheduled' ? `Not attempted yet; due ${m.sendAt}.` : 'No attempts.'));
    if (context.can('send')) renderActions();
  };

  const renderActions = () => {
    const m = state.message;
    const buttons = [];
    if (m.status === 'scheduled') {
      const cancel = h('button', { type: 'button', class: 'danger' }, 'Cancel message');
      cancel.addEventListener('click', async () => {
        const sure = await confirmDialog('Cancel this message?',
          h('p', {}, 'It will not be delivered. You can redrive it later to schedule it again.'), 'Cancel message',
          { danger: true });
        if (sure) await act(cancel, out, () => api.call('DELETE', `/messages/${encodeURIComponent(id)}`), 'Cancelled.');
      });
      buttons.push(cancel);
    }
    if (m.status === 'failed' || m.status === 'cancelled') {
      const redrive = h('button', { type: 'button', class: 'primary' }, 'Redrive now');
      redrive.addEventListener('click', () => act(redrive, out,
        () => api.call('POST', `/messages/${encodeURIComponent(id)}/redrive`, { body: {} }),
        'Scheduled again: it will be delivered now (counts against the daily quota).'));
      buttons.push(redrive);
    }
    const parts = [h('h2', {}, 'Actions')];
    if (buttons.length) parts.push(h('div', { class: 'actions' }, buttons));
    if (m.status === 'scheduled') parts.push(rescheduleForm());
    if (!buttons.length && m.status !== 'scheduled') {
      parts.push(h('p', { class: 'muted' }, m.status === 'delivering'
        ? 'Being delivered now; nothing to change.' : 'Delivered: nothing left to do.'));
    }
    clear(actions, parts);
  };

  const rescheduleForm = () => {
    const picker = zonedPicker('New send time', state.message.sendAt);
    const submit = h('button', { type: 'submit' }, 'Reschedule');
    const form = h('form', { 'aria-label': 'Reschedule' }, picker.el, h('div', { class: 'actions' }, submit));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      act(submit, out, () => api.call('PATCH', `/messages/${encodeURIComponent(id)}`, {
        body: { sendAt: picker.value() }, headers: { 'If-Match': state.etag },
      }), 'Rescheduled.');
    });
    return form;
  };

  const act = async (button, out, request, done) => {
    const result = await busy(button, out, async () => {
      try {
        await request();
      } catch (err) {
        if (err.status === 409) {
          err.words = `${err.words} The message changed since this page showed it; it has been reloaded, `
            + 'check it and try again.';
          state.message = null;
          await load().catch(() => {});
        }
        throw err;
      }
      return true;
    });
    if (result) {
      notify(done);
      state.message = null;
      await load().catch(() => {});
    }
  };

  await load();
  return poll(() => {
    if (!live.checked) return undefined;
    return load();
  }, FINISHED.includes(state.message.status) ? 5000 : 1500);
}

function describe(m, apps) {
  const row = (term, value) => [h('dt', {}, term), h('dd', {}, value)];
  return h('dl', { class: 'facts' },
    row('Status', statusBadge(m.status)),
    row('App', h('span', {}, appName(apps, m.appId), ' ', h('span', { class: 'mono muted' }, m.appId))),
    row('Send at', timeEl(m.sendAt)),
    row('Attempts', `${m.attempts} of at most ${m.maxAttempts}`),
    m.nextAttemptAt && row('Next attempt', timeEl(m.nextAttemptAt)),
    m.deliveredAt && row('Delivered at', timeEl(m.deliveredAt)),
    row('Lateness', formatLate(m.lateMs)),
    m.failureReason && row('Why it ended', reasonText(m.failureReason)),
    m.notAfter && row('Not after', timeEl(m.notAfter)),
    row('Created', timeEl(m.createdAt)),
    row('ETag', h('span', { class: 'mono' }, m.etag)));
}

function attemptItem(a) {
  const ok = a.statusCode !== null && a.statusCode >= 200 && a.statusCode < 300;
  const outcome = a.statusCode !== null ? `HTTP ${a.statusCode}` : `no response: ${a.error || 'error'}`;
  return h('li', { class: ok ? 'ok' : 'bad' },
    h('div', { class: 'attempt-head' }, h('strong', {}, `#${a.n}`), ' ', timeEl(a.startedAt), ' · ',
      h('span', { class: ok ? 'good' : 'warn' }, outcome), ` · ${a.durationMs} ms`),
    a.error && a.statusCode !== null ? h('p', { class: 'small' }, a.error) : null,
    a.responseSnippet ? h('pre', { class: 'snippet' }, a.responseSnippet) : null);
}
