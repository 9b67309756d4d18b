/* The ratings, new-intent proposals and accounts tables. */
import { $, api, attempt, cell, el, number, when } from './api.js';

const ROLES = ['agent', 'operator', 'admin'];

export async function loadRatings() {
  const data = await api('GET', '/api/csat');
  const overall = data.overall;
  $('csat-overall').textContent = overall.count
    ? 'Average rating ' + number(overall.average) + ' / 5 from ' + overall.count + ' conversations'
    : 'No ratings yet.';
  fillAverages($('csat-intents'), data.per_intent);
  fillAverages($('csat-weeks'), data.per_week);
}

function fillAverages(table, rows) {
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const row of rows) {
    const tr = el('tr');
    tr.append(cell(row.key), cell(number(row.average)), cell(row.count));
    body.appendChild(tr);
  }
}

// `canDecide`: whether to offer approve/reject; `onDecided` runs after a decision.
export async function loadProposals(canDecide, onDecided) {
  const data = await api('GET', '/api/intent-proposals');
  const body = $('proposal-list').tBodies[0];
  body.replaceChildren();
  for (const proposal of data.proposals) {
    const row = el('tr', { 'data-name': proposal.name });
    const actions = el('td');
    if (proposal.status === 'pending' && canDecide) {
      for (const [verb, label] of [['approve', 'Approve'], ['reject', 'Reject']]) {
        const button = el('button', { type: 'button', class: verb }, label);
        button.addEventListener('click', () => attempt(async () => {
          await api('POST', '/api/intent-proposals/' + encodeURIComponent(proposal.name) + '/' + verb);
          await onDecided();
          await loadProposals(canDecide, onDecided);
        }));
        actions.appendChild(button);
      }
    }
    row.append(
      cell(proposal.name),
      cell(proposal.status, 'proposal-status'),
      cell(proposal.proposed_by + ', ' + when(proposal.created_at)),
      cell(proposal.decided_by ? proposal.decided_by + ', ' + when(proposal.decided_at) : ''),
      actions,
    );
    body.appendChild(row);
  }
}

export async function loadAccounts() {
  const data = await api('GET', '/api/users');
  const body = $('account-list').tBodies[0];
  body.replaceChildren();
  for (const user of data.users) {
    const row = el('tr', { 'data-username': user.username });
    const role = el('select', { 'aria-label': 'Role of ' + user.username });
    for (const name of ROLES) role.appendChild(el('option', { value: name }, name));
    role.value = user.role;
    role.addEventListener('change', () => changeAccount(user.username, { role: role.value }));
    const toggle = el('button', { type: 'button' }, user.active ? 'Disable' : 'Enable');
    toggle.addEventListener('click', () => changeAccount(user.username, { active: !user.active }));
    const roleCell = el('td');
    roleCell.appendChild(role);
    const actions = el('td');
    actions.appendChild(toggle);
    row.append(cell(user.username), cell(user.display_name), roleCell, cell(user.active ? 'active' : 'disabled'), actions);
    body.appendChild(row);
  }
}

function changeAccount(username, change) {
  // Reload either way: a refused change (e.g. the last admin) must not stay on screen.
  attempt(() => api('PATCH', '/api/users/' + encodeURIComponent(username), change)).then(() => attempt(loadAccounts));
}

export async function createAccount(form) {
  const values = Object.fromEntries(new FormData(form).entries());
  if (!values.display_name) delete values.display_name;
  await api('POST', '/api/users', values);
  form.reset();
  await loadAccounts();
}
