/*
 * The Analytics tab (every staff role): how well the bot serves over a date range, for all
 * adapter versions or one. Figures from /api/analytics/summary, plots from
 * /api/analytics/timeseries drawn with uPlot (vendor/uPlot.iife.min.js, loaded as a plain
 * script before the modules: it defines window.uPlot). The same figures download as CSV.
 */
import { $, api, cell, el, number, queryString } from './api.js';

const DAY_MS = 24 * 3600 * 1000;
const plots = [];
let wired = false;

function isoDay(date) { return date.toISOString().slice(0, 10); }

function percent(rate) { return typeof rate === 'number' ? (rate * 100).toFixed(1) + ' %' : '–'; }

function params() {
  const form = $('analytics-filters');
  return {
    from: form.elements.from.value,
    to: form.elements.to.value,
    adapter: form.elements.adapter.value,
  };
}

function setRange(days) {
  const form = $('analytics-filters');
  const today = new Date();
  form.elements.to.value = isoDay(today);
  form.elements.from.value = isoDay(new Date(today.getTime() - (days - 1) * DAY_MS));
}

export function wireAnalytics() {
  if (wired) return;
  wired = true;
  setRange(30);
  $('analytics-filters').addEventListener('submit', (event) => {
    event.preventDefault();
    loadAnalytics();
  });
  for (const button of document.querySelectorAll('#analytics-filters [data-days]')) {
    button.addEventListener('click', () => { setRange(Number(button.getAttribute('data-days'))); loadAnalytics(); });
  }
}

export async function loadAnalytics() {
  wireAnalytics();
  const interval = $('analytics-filters').elements.interval.value;
  const query = params();
  const [summary, series, actions] = await Promise.all([
    api('GET', '/api/analytics/summary?' + queryString(query)),
    api('GET', '/api/analytics/timeseries?' + queryString({ ...query, interval: interval })),
    api('GET', '/api/analytics/actions?' + queryString(query)),
  ]);
  $('analytics-actions-csv').href = '/api/analytics/actions?' + queryString({ ...query, format: 'csv' });
  $('analytics-csv').href = '/api/analytics/timeseries?' + queryString({ ...query, interval: interval, format: 'csv' });
  $('analytics-summary-csv').href = '/api/analytics/summary?' + queryString({ ...query, format: 'csv' });
  $('analytics-idle').textContent = String(summary.idle_minutes);
  fillAdapters(summary);
  fillCards(summary.figures);
  fillIntents(summary.intents);
  fillCsat(summary.figures);
  fillActions(actions.actions);
  drawPlots(series.buckets);
}

function fillActions(rows) {
  const body = $('analytics-actions').tBodies[0];
  body.replaceChildren();
  if (!rows.length) body.appendChild(el('tr', null)).appendChild(el('td', { colspan: 6, class: 'empty' }, 'No business action was called.'));
  for (const row of rows) {
    const outcomes = Object.entries(row.outcomes).map(([name, count]) => name + ' ' + count).join(', ');
    const tr = el('tr', { 'data-action': row.action });
    tr.append(
      cell(row.action), cell(row.calls), cell(row.failures + ' (' + percent(row.failure_rate) + ')'),
      cell(outcomes), cell(row.latency_median_ms ?? '–'), cell(row.latency_p95_ms ?? '–'),
    );
    body.appendChild(tr);
  }
}

function fillAdapters(summary) {
  const select = $('analytics-filters').elements.adapter;
  const chosen = select.value;
  select.replaceChildren(el('option', { value: '' }, 'all'));
  const names = summary.adapters.map((row) => row.adapter).filter((name) => name);
  if (chosen && !names.includes(chosen)) names.push(chosen);
  for (const name of names) select.appendChild(el('option', { value: name }, name));
  select.value = chosen;
  const body = $('analytics-adapters').tBodies[0];
  body.replaceChildren();
  for (const row of summary.adapters) {
    const tr = el('tr', { 'data-adapter': row.adapter });
    const name = row.adapter || '(clicked suggestions, no prediction)';
    const show = el('button', { type: 'button', class: 'show-adapter' }, 'Show');
    show.disabled = !row.adapter;
    show.addEventListener('click', () => { select.value = row.adapter; loadAnalytics(); });
    const actions = el('td');
    actions.appendChild(show);
    tr.append(cell(name), cell(row.conversations), cell(row.turns), actions);
    body.appendChild(tr);
  }
}

function card(key, label, value, detail) {
  const box = el('div', { class: 'card', 'data-figure': key });
  box.append(el('span', { class: 'card-label' }, label), el('span', { class: 'card-value' }, value));
  if (detail) box.appendChild(el('span', { class: 'card-detail' }, detail));
  return box;
}

function fillCards(f) {
  $('analytics-cards').replaceChildren(
    card('conversations', 'Conversations', String(f.conversations), f.turns + ' bot replies'),
    card('containment', 'Contained', percent(f.containment_rate), f.contained + ' of ' + f.decided + ' decided'),
    card('handoff', 'Handed off', percent(f.handoff_rate), f.handed_off + ' conversations'),
    card('fallback', 'Fallback', percent(f.fallback_rate), f.fallbacks + ' out-of-scope replies'),
    card('ask-back', 'Asked back', percent(f.ask_back_rate), f.ask_backs + ' replies'),
    card('clicks', 'Suggestion clicks', percent(f.suggestion_click_rate), f.suggestion_clicks + ' of the ask-backs'),
    card('thumbs', 'Thumbs', f.thumbs_up + ' up · ' + f.thumbs_down + ' down'),
    card('csat', 'CSAT', f.csat_average === null ? '–' : number(f.csat_average) + ' / 5',
      f.csat_count + (f.csat_count === 1 ? ' rating' : ' ratings')),
    card('latency', 'Reply latency', f.latency_median_ms === null ? '–' : f.latency_median_ms + ' ms',
      f.latency_p95_ms === null ? '' : 'p95 ' + f.latency_p95_ms + ' ms'),
    card('confidence', 'Mean confidence', number(f.confidence_mean)),
  );
}

function fillIntents(rows) {
  const body = $('analytics-intents').tBodies[0];
  body.replaceChildren();
  if (!rows.length) body.appendChild(el('tr', null)).appendChild(el('td', { colspan: 2, class: 'empty' }, 'No answered turns.'));
  for (const row of rows) {
    const tr = el('tr', { 'data-intent': row.intent });
    tr.append(cell(row.intent), cell(row.turns));
    body.appendChild(tr);
  }
}

function fillCsat(f) {
  const body = $('analytics-csat').tBodies[0];
  body.replaceChildren();
  for (const rating of ['5', '4', '3', '2', '1']) {
    const count = f.csat_distribution[rating] || 0;
    const share = f.csat_count ? count / f.csat_count : null;
    const tr = el('tr', { 'data-rating': rating });
    tr.append(cell(rating + ' / 5'), cell(count), cell(percent(share)));
    body.appendChild(tr);
  }
}

// ---------------------------------------------------------------- plots --
function lowShare(bucket) {
  const total = bucket.confidence_histogram.reduce((a, b) => a + b, 0);
  const low = bucket.confidence_histogram.slice(0, 5).reduce((a, b) => a + b, 0);
  return total ? low / total : null;
}

const COLORS = ['#4f46e5', '#1a7f37', '#c4232b', '#b45309', '#0e7490'];

function drawPlots(buckets) {
  for (const plot of plots.splice(0)) plot.destroy();
  const xs = buckets.map((b) => Date.parse(b.start + 'T00:00:00Z') / 1000);
  const rate = (key) => buckets.map((b) => (b[key] === null ? null : b[key] * 100));
  draw('chart-volume', xs, [
    ['Conversations', buckets.map((b) => b.conversations)],
    ['Bot replies', buckets.map((b) => b.turns)],
  ]);
  draw('chart-rates', xs, [
    ['Contained %', rate('containment_rate')],
    ['Handed off %', rate('handoff_rate')],
    ['Fallback %', rate('fallback_rate')],
    ['Asked back %', rate('ask_back_rate')],
  ]);
  draw('chart-confidence', xs, [
    ['Mean confidence', buckets.map((b) => b.confidence_mean)],
    ['Share below 0.5', buckets.map(lowShare)],
  ]);
  draw('chart-latency', xs, [
    ['Median ms', buckets.map((b) => b.latency_median_ms)],
    ['p95 ms', buckets.map((b) => b.latency_p95_ms)],
  ]);
}

function draw(id, xs, lines) {
  const target = $(id);
  target.replaceChildren();
  if (typeof window.uPlot !== 'function') {
    target.textContent = 'The plotting library did not load.';
    return;
  }
  const options = {
    width: Math.max(280, target.clientWidth || 480),
    height: 200,
    scales: { x: { time: true } },
    series: [{}].concat(lines.map(([label], index) => ({
      label: label, stroke: COLORS[index % COLORS.length], width: 2, spanGaps: false,
    }))),
  };
  plots.push(new window.uPlot(options, [xs].concat(lines.map(([, values]) => values)), target));
}
