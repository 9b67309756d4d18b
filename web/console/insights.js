/*
 * The Discover tab: the customer turns the bot served badly (out of scope, asked back,
 * thumbs-down), clustered into candidate intents. Operators tick the turns that belong, edit the
 * suggested name and propose it as a new intent (the ticked turns become its first labelled
 * examples), or label them as the existing intent a cluster turns out to be.
 * Customer text is rendered with textContent only.
 */
import { $, api, el, notice, number, queryString } from './api.js';

let wired = false;
let canLabel = false;

export function wireInsights() {
  if (wired) return;
  wired = true;
  $('cluster-filters').addEventListener('submit', (event) => {
    event.preventDefault();
    loadClusters(canLabel);
  });
}

export async function loadClusters(operator) {
  canLabel = operator;
  wireInsights();
  const since = $('cluster-filters').elements.since.value;
  $('cluster-summary').textContent = 'Clustering…';
  const report = await api('GET', '/api/insights/clusters?' + queryString({ since: since }));
  $('cluster-summary').textContent = report.turns + ' unserved turns not labelled yet; '
    + report.clustered + ' of them in ' + report.clusters.length
    + (report.clusters.length === 1 ? ' cluster.' : ' clusters.');
  const list = $('cluster-list');
  list.replaceChildren();
  report.clusters.forEach((cluster, index) => list.appendChild(clusterCard(cluster, index)));
}

function growthText(cluster) {
  if (cluster.growth === null) return cluster.recent ? 'new this week' : 'none in the last two weeks';
  const sign = cluster.growth >= 0 ? '+' : '';
  return sign + Math.round(cluster.growth * 100) + ' % on the week before';
}

function clusterCard(cluster, index) {
  const card = el('article', { class: 'cluster', 'data-index': index, 'data-name': cluster.name });
  const head = el('header', { class: 'cluster-head' });
  head.append(
    el('strong', { class: 'cluster-size' }, cluster.size + ' turns'),
    el('span', { class: 'cluster-words' }, cluster.words.join(', ')),
    el('span', { class: 'cluster-growth' }, cluster.recent + ' this week · ' + growthText(cluster)),
    el('span', { class: 'cluster-nearest' },
      cluster.nearest_intent ? 'nearest intent ' + cluster.nearest_intent + ' (' + number(cluster.similarity) + ')' : ''),
  );
  card.appendChild(head);
  if (cluster.looks_like) {
    card.appendChild(el('p', { class: 'cluster-known' },
      'These look like ' + cluster.looks_like + ': label them.'));
  }
  const turns = el('ul', { class: 'cluster-turns' });
  for (const turn of cluster.turns) {
    const item = el('li', { 'data-message-id': turn.message_id, class: turn.representative ? 'representative' : null });
    const label = el('label');
    const tick = el('input', { type: 'checkbox', value: turn.message_id, checked: true });
    const text = el('span', { class: 'turn-text' }, turn.text);
    const why = el('span', { class: 'turn-reason' }, turn.reason.replace(/_/g, ' '));
    label.append(tick, text, why);
    const open = el('a', { href: '#c/' + encodeURIComponent(turn.conversation_id) + '?m=' + turn.message_id }, 'open');
    item.append(label, open);
    turns.appendChild(item);
  }
  card.appendChild(turns);
  if (canLabel) card.appendChild(actions(card, cluster));
  return card;
}

function ticked(card) {
  return Array.from(card.querySelectorAll('.cluster-turns input:checked')).map((box) => Number(box.value));
}

function actions(card, cluster) {
  const bar = el('div', { class: 'cluster-actions' });
  const name = el('input', { name: 'intent-name', value: cluster.name, maxlength: 63, 'aria-label': 'Intent name' });
  const propose = el('button', { type: 'button', class: 'primary propose' }, 'Propose as new intent');
  const status = el('span', { class: 'cluster-status', role: 'status' });
  propose.addEventListener('click', () => submit(card, { intent: name.value, propose: true }, status));
  bar.append(name, propose);
  const existing = cluster.looks_like || cluster.nearest_intent;
  if (existing) {
    const label = el('button', { type: 'button', class: 'label-existing' }, 'Label as ' + existing);
    label.addEventListener('click', () => submit(card, { intent: existing, propose: false }, status));
    bar.appendChild(label);
  }
  bar.appendChild(status);
  return bar;
}

async function submit(card, body, status) {
  const ids = ticked(card);
  if (!ids.length) {
    status.textContent = 'Tick at least one turn.';
    return;
  }
  try {
    notice('');
    const result = await api('POST', '/api/insights/clusters/labels', { ...body, message_ids: ids });
    status.textContent = result.proposal
      ? 'Proposed ' + result.intent + ' (' + result.proposal.status + ') with ' + result.labelled + ' examples.'
      : 'Labelled ' + result.labelled + ' turns as ' + result.intent + '.';
    card.classList.add('done');
    for (const box of card.querySelectorAll('input, button')) box.disabled = true;
  } catch (error) {
    status.textContent = error.message;
  }
}
