// Usage: messages scheduled / delivered / failed per UTC day against the plan's daily quota, and the
// p50 / p99 lateness of delivered messages per day (computed here from the messages' lateMs).

import * as api from './api.js';
import { barChart, lineChart } from './chart.js';
import { clear, errorBox, field, formatLate, formatNumber, h, select } from './ui.js';

const MAX_SAMPLED = 2000;

function isoDay(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export async function render(main, context) {
  const plan = context.app.me.plan;
  const range = select([['7', 'Last 7 days'], ['30', 'Last 30 days'], ['90', 'Last 90 days']], '7');
  const scaleTo = h('input', { type: 'checkbox' });
  const body = h('div');
  main.append(h('h1', {}, 'Usage'),
    h('p', {}, `Plan ${plan.name}: ${plan.ratePerSecond === null ? 'no rate limit' : `${formatNumber(plan.ratePerSecond)} requests/s`}`
      + `${plan.burst === null ? '' : ` (bursts of ${formatNumber(plan.burst)})`}, `
      + `${plan.dailyQuota === null ? 'no daily quota' : `${formatNumber(plan.dailyQuota)} messages a day (UTC)`}.`),
    h('div', { class: 'filters' }, field('Period', range),
      h('label', { class: 'inline' }, scaleTo, ' Scale the chart to the daily quota')),
    body);
  const load = async () => {
    const days = Number(range.value);
    const to = isoDay(Date.now());
    const from = isoDay(Date.now() - (days - 1) * 86400000);
    clear(body, h('p', { class: 'muted' }, 'Loading…'));
    try {
      const [usage, delivered] = await Promise.all([
        api.get('/usage', { from, to }),
        api.all('/messages', { status: 'delivered', sendAfter: `${from}T00:00:00.000Z`, sendBefore: `${to}T23:59:59.999Z` },
          MAX_SAMPLED),
      ]);
      clear(body, ...show(usage.items, delivered, plan, scaleTo.checked));
    } catch (err) {
      clear(body, errorBox(err));
    }
  };
  range.addEventListener('change', load);
  scaleTo.addEventListener('change', load);
  await load();
}

function show(days, delivered, plan, scaleTo) {
  const byDay = new Map();
  for (const m of delivered.items) {
    if (m.lateMs === null) continue;
    const day = m.sendAt.slice(0, 10);
    if (!byDay.has(day)) byDay.set(day, []);
    byDay.get(day).push(m.lateMs);
  }
  const rows = days.map((d) => {
    const late = (byDay.get(d.date) || []).sort((a, b) => a - b);
    return { ...d, p50: percentile(late, 50), p99: percentile(late, 99), sampled: late.length };
  });
  const limit = { value: plan.dailyQuota, label: `daily quota ${formatNumber(plan.dailyQuota)}`, scaleTo };
  const counts = barChart('Messages per day', rows,
    [['scheduled', 'scheduled', 's-scheduled'], ['delivered', 'delivered', 's-delivered'], ['failed', 'failed', 's-failed']],
    limit);
  const lateness = lineChart('Lateness of delivered messages per day', rows,
    [['p50', 'p50', 's-p50'], ['p99', 'p99', 's-p99']], formatLate);
  return [
    h('section', { 'aria-label': 'Messages per day' }, h('h2', {}, 'Messages per day'), counts),
    h('section', { 'aria-label': 'Lateness per day' }, h('h2', {}, 'Lateness (first attempt − sendAt)'), lateness,
      h('p', { class: 'muted small' }, `From ${delivered.items.length} delivered message(s)`
        + `${delivered.truncated ? ` (the first ${MAX_SAMPLED} of the period)` : ''}.`)),
    h('h2', {}, 'Figures'),
    h('div', { class: 'scroll' }, h('table', {},
      h('caption', { class: 'visually-hidden' }, 'Usage per day'),
      h('thead', {}, h('tr', {}, ['Day (UTC)', 'Scheduled', 'Delivered', 'Failed', 'Attempts', 'p50 late', 'p99 late']
        .map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows.slice().reverse().map((r) => h('tr', {},
        h('th', { scope: 'row' }, r.date),
        [r.scheduled, r.delivered, r.failed, r.attempts].map((v) => h('td', { class: 'num' }, formatNumber(v))),
        h('td', { class: 'num' }, formatLate(r.p50)), h('td', { class: 'num' }, formatLate(r.p99))))))),
  ];
}
