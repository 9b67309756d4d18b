/*
 * The Privacy tab (admins): find a customer's conversations by e-mail or phone, erase them,
 * see which adapter versions learnt from erased turns, and the erasure log (who, how many, when).
 * All text goes through textContent (api.js: el, cell).
 */
import { $, api, attempt, cell, el, when } from './api.js';

let found = [];

export async function loadPrivacy() {
  const status = await api('GET', '/api/privacy/status');
  const warning = $('privacy-warning');
  warning.hidden = !status.production_erased_turns;
  warning.textContent = status.production_erased_turns
    ? 'The serving adapter ' + status.production_adapter + ' was trained on ' + status.production_erased_turns
      + ' customer turns that have since been erased. Start a learning round and promote the new version.'
    : '';
  $('privacy-settings').textContent = 'Stored text: ' + (status.store_redacted ? 'redacted' : 'as typed')
    + ' · retention: ' + (status.retention_days ? status.retention_days + ' days' : 'kept until erased')
    + (status.retain_labelled_redacted ? ' (staff-labelled turns kept redacted)' : '');
  const marked = $('marked-versions');
  marked.replaceChildren();
  for (const id of status.marked_versions) marked.appendChild(el('li', null, id));
  if (!status.marked_versions.length) marked.appendChild(el('li', { class: 'empty' }, 'None.'));
  await loadErasureLog();
}

async function loadErasureLog() {
  const rows = await api('GET', '/api/privacy/erasures?limit=50');
  const body = $('erasure-log').tBodies[0];
  body.replaceChildren();
  for (const row of rows) {
    const tr = el('tr');
    tr.append(cell(when(row.at)), cell(row.actor), cell(row.reason), cell(row.conversations),
      cell(row.messages), cell(row.adapters_marked));
    body.appendChild(tr);
  }
}

async function search(form) {
  const values = Object.fromEntries(new FormData(form).entries());
  const kind = ['phone', 'customer_id'].includes(values.kind) ? values.kind : 'email';
  const data = await api('POST', '/api/privacy/search', { [kind]: values.value });
  found = data.conversations;
  const body = $('privacy-matches').tBodies[0];
  body.replaceChildren();
  for (const match of found) {
    const tr = el('tr', { 'data-id': match.id });
    const link = el('a', { href: '#c/' + match.id }, match.id);
    const idCell = el('td');
    idCell.appendChild(link);
    tr.append(idCell, cell(when(match.created_at)), cell(when(match.last_message_at)), cell(match.messages), cell(match.status));
    body.appendChild(tr);
  }
  if (!found.length) {
    const tr = el('tr');
    tr.appendChild(el('td', { colspan: 5, class: 'empty' }, 'No conversation holds it.'));
    body.appendChild(tr);
  }
  $('erase-matches').hidden = !found.length;
  $('erase-matches').textContent = 'Erase these ' + found.length + ' conversations';
}

export async function eraseConversations(ids) {
  const ok = window.confirm('Erase ' + ids.length + ' conversation(s) and everything derived from them? This cannot be undone.');
  if (!ok) return null;
  const result = await api('POST', '/api/privacy/erasures', { conversation_ids: ids });
  $('erase-result').textContent = 'Erased ' + result.conversations + ' conversations (' + result.messages + ' messages)'
    + (result.adapters_marked.length ? '; adapter versions trained on them: ' + result.adapters_marked.join(', ') : '') + '.';
  return result;
}

export function wirePrivacy() {
  $('privacy-search').addEventListener('submit', (event) => {
    event.preventDefault();
    attempt(() => search(event.target));
  });
  $('erase-matches').addEventListener('click', () => attempt(async () => {
    const result = await eraseConversations(found.map((match) => match.id));
    if (result === null) return;
    found = [];
    $('privacy-matches').tBodies[0].replaceChildren();
    $('erase-matches').hidden = true;
    await loadPrivacy();
  }));
}
