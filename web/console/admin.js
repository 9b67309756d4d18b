/* The ratings, new-intent proposals and accounts tables. */
import { $, api, attempt, cell, el, number, when } from './api.js';

const ROLES = ['agent', 'operator', 'admin'];

export async function loadRatings() {
  const data = await api('GET', '/api/csat');
  const overall = data.overall;
  $('csat-overall').textContent = overall.count
    ? 'Average rating ' + number(overall.average) + ' / 5 from ' + overall.count
      + (overall.count === 1 ? ' conversation' : ' conversations')
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

// `canDecide`: whether to offer approve/reject; `onDecided` runs after a decision. Approving
// asks for the new intent's reply; until it has one, the intent answers with the fallback.
export async function loadProposals(canDecide, onDecided) {
  const [data, content] = await Promise.all([
    api('GET', '/api/intent-proposals'),
    api('GET', '/api/content/responses'),
  ]);
  const answered = new Set(content.responses.map((response) => response.intent));
  const body = $('proposal-list').tBodies[0];
  body.replaceChildren();
  const reload = async () => {
    await onDecided();
    await loadProposals(canDecide, onDecided);
  };
  for (const proposal of data.proposals) {
    const row = el('tr', { 'data-name': proposal.name });
    const actions = el('td');
    if (proposal.status === 'pending' && canDecide) {
      const approve = el('button', { type: 'button', class: 'approve' }, 'Approve…');
      approve.addEventListener('click', () => toggleApproveForm(row, proposal.name, reload));
      const reject = el('button', { type: 'button', class: 'reject' }, 'Reject');
      reject.addEventListener('click', () => attempt(async () => {
        await api('POST', '/api/intent-proposals/' + encodeURIComponent(proposal.name) + '/reject');
        await reload();
      }));
      actions.append(approve, reject);
    }
    row.append(
      cell(proposal.name),
      cell(proposal.status, 'proposal-status'),
      cell(proposal.proposed_by + ', ' + when(proposal.created_at)),
      cell(proposal.decided_by ? proposal.decided_by + ', ' + when(proposal.decided_at) : ''),
      replyCell(proposal, answered.has(proposal.name)),
      actions,
    );
    body.appendChild(row);
  }
}

function replyCell(proposal, answered) {
  const td = el('td', { class: 'proposal-reply' });
  const link = el('a', { href: '#content/response/' + proposal.name });
  if (answered) {
    link.textContent = 'Written';
    td.appendChild(link);
  } else if (proposal.status === 'approved') {
    td.appendChild(el('span', { class: 'no-reply' }, 'None: answers with the fallback. '));
    link.textContent = 'Write it';
    td.appendChild(link);
  }
  return td;
}

function titleFor(name) {
  const words = name.replace(/_/g, ' ');
  return (words.charAt(0).toUpperCase() + words.slice(1)).slice(0, 30);
}

// The form under a proposal's row: the reply the new intent answers with, then approve.
function toggleApproveForm(row, name, reload) {
  const next = row.nextElementSibling;
  if (next && next.classList.contains('approve-row')) {
    next.remove();
    return;
  }
  const formRow = el('tr', { class: 'approve-row', 'data-name': name });
  const td = el('td', { colspan: 6 });
  const form = el('form', { class: 'approve-form' });
  const title = el('input', { name: 'title', maxlength: 30, required: true });
  title.value = titleFor(name);
  const reply = el('textarea', { name: 'reply', rows: 3, maxlength: 2000, placeholder: 'What the bot answers' });
  const titleLabel = el('label', null, 'Button title');
  titleLabel.appendChild(title);
  const replyLabel = el('label', null, 'The reply for ' + name);
  replyLabel.appendChild(reply);
  const hint = el('p', { class: 'hint' },
    'Without a reply the intent answers with the fallback (a help-centre article, or the offer of a person) '
    + 'until one is written in Replies & articles.');
  const withReply = el('button', { type: 'submit', class: 'primary approve-with-reply' }, 'Approve with this reply');
  const without = el('button', { type: 'button', class: 'approve-without-reply' }, 'Approve without a reply');
  const cancel = el('button', { type: 'button' }, 'Cancel');
  const buttons = el('div', { class: 'buttons' });
  buttons.append(withReply, without, cancel);
  form.append(titleLabel, replyLabel, hint, buttons);
  td.appendChild(form);
  formRow.appendChild(td);
  row.after(formRow);
  reply.focus();

  const decide = (body) => attempt(async () => {
    await api('POST', '/api/intent-proposals/' + encodeURIComponent(name) + '/approve', body);
    await reload();
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = reply.value.trim();
    if (!text) {
      reply.setCustomValidity('Write the reply, or approve without one.');
      reply.reportValidity();
      return;
    }
    decide({ response: { title: title.value.trim(), replies: [text] } });
  });
  reply.addEventListener('input', () => reply.setCustomValidity(''));
  without.addEventListener('click', () => decide(undefined));
  cancel.addEventListener('click', () => formRow.remove());
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
