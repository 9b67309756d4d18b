/*
 * Business actions in the Replies & articles tab: the list, the definition editor (JSON) and the
 * Test button, which calls the backend with slot values (the definition's sample by default)
 * and shows what a customer would read. Operators and admins edit and test; agents read.
 *
 * All server text is shown through textContent or form values, never innerHTML.
 */
import { $, api, attempt, cell, el, when } from './api.js';

const view = { canEdit: false, actions: [], open: null };

export function actionNames() { return view.actions.map((action) => action.name); }

export async function loadActions(canEdit) {
  view.canEdit = canEdit;
  view.actions = await api('GET', '/api/content/actions');
  const body = $('action-list').tBodies[0];
  body.replaceChildren();
  for (const action of view.actions) {
    const row = el('tr', { class: 'clickable', 'data-action': action.name });
    const stats = action.stats;
    const seen = stats.calls + ' call(s), ' + stats.failures + ' failed, circuit ' + stats.circuit
      + (stats.mean_latency_ms === null ? '' : ', mean ' + stats.mean_latency_ms + ' ms');
    row.append(
      cell(action.name),
      cell(action.definition.title),
      cell(action.used_by.join(', ') || 'no reply'),
      cell(seen),
      cell('v' + action.version + ' · ' + action.updated_by + ', ' + when(action.updated_at)),
    );
    row.addEventListener('click', () => { window.location.hash = 'content/action/' + action.name; });
    body.appendChild(row);
  }
}

export async function openAction(name, showHistory) {
  const action = await api('GET', '/api/content/actions/' + encodeURIComponent(name));
  const form = $('action-form');
  view.open = { kind: 'action', key: name, version: action.version, definition: action.definition };
  $('ac-heading').textContent = 'Action ' + name + ': ' + action.definition.title;
  form.elements.name.value = name;
  $('ac-definition').value = JSON.stringify(action.definition, null, 2);
  $('ac-definition').readOnly = !view.canEdit;
  $('ac-status').textContent = 'Version ' + action.version + ', used by ' + (action.used_by.join(', ') || 'no reply');
  for (const button of form.querySelectorAll('.edit-only')) button.hidden = !view.canEdit;
  fillSlotInputs(action.definition);
  $('ac-result').hidden = true;
  await showHistory('action', name);
}

function fillSlotInputs(definition) {
  const box = $('ac-slots');
  box.replaceChildren();
  for (const slot of definition.slots || []) {
    const input = el('input', { name: 'slot-' + slot.name, 'data-slot': slot.name, autocomplete: 'off' });
    input.value = (definition.sample || {})[slot.name] || '';
    const label = el('label', null, (slot.label || slot.name) + ' ');
    label.appendChild(input);
    box.appendChild(label);
  }
}

async function runTest() {
  const slots = {};
  for (const input of document.querySelectorAll('#ac-slots input')) slots[input.dataset.slot] = input.value.trim();
  $('ac-run').disabled = true;
  try {
    const result = await api('POST', '/api/content/actions/' + encodeURIComponent(view.open.key) + '/test', { slots });
    $('ac-result').hidden = false;
    const status = result.status === null ? 'no answer' : 'HTTP ' + result.status;
    $('ac-outcome').textContent = result.outcome + ' (' + status + ', ' + result.latency_ms + ' ms, '
      + result.attempts + ' attempt(s), circuit ' + result.circuit + ')' + (result.reason ? ': ' + result.reason : '');
    $('ac-reply').textContent = result.reply;
    $('ac-answer').textContent = result.answer === null ? '(none)' : JSON.stringify(result.answer, null, 2);
  } finally {
    $('ac-run').disabled = false;
  }
}

async function saveAction(reopen) {
  let definition;
  try {
    definition = JSON.parse($('ac-definition').value);
  } catch (error) {
    $('ac-status').textContent = 'Not valid JSON: ' + error.message;
    return;
  }
  const saved = await api('PUT', '/api/content/actions/' + encodeURIComponent(view.open.key),
    { definition, version: view.open.version });
  await reopen(saved.name);
  $('ac-status').textContent = 'Saved as version ' + saved.version + ': used from now on.';
}

export function wireActions(reopen) {
  $('action-form').addEventListener('submit', (event) => {
    event.preventDefault();
    attempt(() => saveAction(reopen));
  });
  $('ac-run').addEventListener('click', () => attempt(runTest));
  $('ac-close').addEventListener('click', () => { window.location.hash = 'content'; });
}

// The response editor's choice of action: none, or one of the actions.
export function fillActionChoice(select, chosen) {
  select.replaceChildren(el('option', { value: '' }, 'None: answer with the replies'));
  for (const name of actionNames()) {
    const option = el('option', { value: name }, name);
    option.selected = name === chosen;
    select.appendChild(option);
  }
}
