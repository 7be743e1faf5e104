// Small SVG charts drawn from JS (no library): grouped bars per day and lines per day, with an
// optional horizontal limit line. Colours come from console.css classes, so the CSP stays strict.

const NS = 'http://www.w3.org/2000/svg';
const W = 720;
const H = 260;
const PAD = { left: 56, right: 16, top: 24, bottom: 40 };

function s(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  if (text !== undefined) el.textContent = text;
  return el;
}

function niceMax(value) {
  if (value <= 8) return value <= 4 ? 4 : 8; // small counts: whole-number ticks
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function frame(svg, max, format, days) {
  const plotH = H - PAD.top - PAD.bottom;
  for (let i = 0; i <= 4; i += 1) {
    const v = (max * i) / 4;
    const y = PAD.top + plotH - (plotH * i) / 4;
    svg.append(s('line', { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: 'grid' }));
    svg.append(s('text', { x: PAD.left - 6, y: y + 4, 'text-anchor': 'end', class: 'axis' }, format(v)));
  }
  const step = Math.max(1, Math.ceil(days.length / 10));
  const band = (W - PAD.left - PAD.right) / Math.max(days.length, 1);
  days.forEach((day, i) => {
    if (i % step) return;
    svg.append(s('text', { x: PAD.left + band * (i + 0.5), y: H - PAD.bottom + 16, 'text-anchor': 'middle', class: 'axis' },
      day.slice(5)));
  });
  return { plotH, band, y: (v) => PAD.top + plotH - (plotH * Math.min(v, max)) / max };
}

function limitLine(svg, geometry, value, label, offScale) {
  const y = offScale ? PAD.top - 8 : geometry.y(value);
  svg.append(s('line', { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: offScale ? 'limit off' : 'limit' }));
  svg.append(s('text', { x: W - PAD.right, y: y - 4, 'text-anchor': 'end', class: 'limit-label' },
    offScale ? `${label} (above the scale)` : label));
}

function legend(svg, series) {
  series.forEach(([name, cls], i) => {
    const x = PAD.left + i * 120;
    svg.append(s('rect', { x, y: H - 14, width: 10, height: 10, class: cls }));
    svg.append(s('text', { x: x + 14, y: H - 5, class: 'axis' }, name));
  });
}

// days: [{date, ...}], series: [[label, key, cssClass]], limit: {value, label, scaleTo}
export function barChart(title, days, series, limit) {
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'chart' });
  svg.append(s('title', {}, title));
  const highest = Math.max(0, ...days.flatMap((d) => series.map(([, key]) => d[key] || 0)));
  const includeLimit = limit && limit.value !== null && (limit.scaleTo || limit.value <= highest * 2);
  const max = niceMax(includeLimit ? Math.max(highest, limit.value) : highest);
  const geometry = frame(svg, max, (v) => new Intl.NumberFormat().format(v), days.map((d) => d.date));
  const barW = Math.max(1, (geometry.band * 0.8) / series.length);
  days.forEach((day, i) => {
    series.forEach(([label, key, cls], j) => {
      const value = day[key] || 0;
      const x = PAD.left + geometry.band * i + geometry.band * 0.1 + barW * j;
      const y = geometry.y(value);
      const bar = s('rect', { x, y, width: barW, height: PAD.top + geometry.plotH - y, class: cls });
      bar.append(s('title', {}, `${day.date}: ${value} ${label}`));
      svg.append(bar);
    });
  });
  if (limit && limit.value !== null) limitLine(svg, geometry, limit.value, limit.label, !includeLimit);
  legend(svg, series.map(([label, , cls]) => [label, cls]));
  return svg;
}

// days: [{date, ...}], series: [[label, key, cssClass]] of numbers or null (a gap)
export function lineChart(title, days, series, format) {
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'chart' });
  svg.append(s('title', {}, title));
  const highest = Math.max(0, ...days.flatMap((d) => series.map(([, key]) => d[key] || 0)));
  const geometry = frame(svg, niceMax(highest), format, days.map((d) => d.date));
  for (const [label, key, cls] of series) {
    const points = [];
    days.forEach((day, i) => {
      if (day[key] === null || day[key] === undefined) return;
      const x = PAD.left + geometry.band * (i + 0.5);
      const y = geometry.y(day[key]);
      points.push(`${x},${y}`);
      const dot = s('circle', { cx: x, cy: y, r: 3, class: cls });
      dot.append(s('title', {}, `${day.date}: ${label} ${format(day[key])}`));
      svg.append(dot);
    });
    if (points.length > 1) svg.append(s('polyline', { points: points.join(' '), class: `line ${cls}` }));
  }
  legend(svg, series.map(([label, , cls]) => [label, cls]));
  return svg;
}
