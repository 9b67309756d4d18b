/*
 * The live desk: the conversation list (waiting time, newest message, unread counts, filters),
 * the side panel (customer context, earlier conversations, assignment, private notes, the
 * model's view of a turn) and opt-in alerts for new waiting chats.
 *
 * Unread counts are per browser: the newest seq this console has shown of each conversation is
 * kept in localStorage and compared with the conversation's newest seq.
 */
import { $, api, attempt, el, when } from './api.js';
import { renderTurn } from './turns.js';

const SEEN_KEY = 'console.desk.seen';
const ALERTS_KEY = 'console.desk.alerts';
const FILTERS = ['all', 'mine', 'unassigned', 'waiting'];

const desk = {
  me: null,
  labelling: null,
  items: [],
  filter: 'all',
  openId: null,
  seen: readSeen(),
  knownWaiting: null,
  sideFor: null,
  onAssigned: null,
};

export function initDesk(me, labelling, onAssigned) {
  desk.me = me;
  desk.labelling = labelling;
  desk.onAssigned = onAssigned;
  for (const name of FILTERS) {
    const button = $('desk-filter-' + name);
    button.addEventListener('click', () => { desk.filter = name; renderList(); });
  }
  $('desk-alerts').addEventListener('click', () => attempt(toggleAlerts));
  renderAlertsButton();
  $('note-form').addEventListener('submit', (event) => {
    event.preventDefault();
    attempt(addNote);
  });
  $('assign-me').addEventListener('click', () => attempt(() => assign(desk.me.username)));
  $('assign-form').addEventListener('submit', (event) => {
    event.preventDefault();
    attempt(() => assign($('assign-to').value || null));
  });
  $('unassign').addEventListener('click', () => attempt(() => assign(null)));
  // The waiting times move on while nothing else happens.
  setInterval(() => { if (!$('desk-pane').hidden) renderList(); }, 30000);
}

// --------------------------------------------------------------- list --
export async function loadDeskList() {
  const data = await api('GET', '/api/live');
  desk.items = data.conversations;
  alertNewWaiting(desk.items);
  renderList();
  return desk.items;
}

export function setOpenConversation(id) {
  desk.openId = id;
  renderList();
}

export function markSeen(id, seq) {
  if (!id || !(seq > (desk.seen[id] || 0))) return;
  desk.seen[id] = seq;
  try { window.localStorage.setItem(SEEN_KEY, JSON.stringify(desk.seen)); } catch (e) { /* private mode */ }
  const badge = document.querySelector('#live-list li[data-id="' + CSS.escape(id) + '"] .unread');
  if (badge) renderList();
}

function readSeen() {
  try { return JSON.parse(window.localStorage.getItem(SEEN_KEY) || '{}') || {}; } catch (e) { return {}; }
}

function unreadOf(item) {
  return Math.max(0, (item.last_seq || 0) - (desk.seen[item.id] || 0));
}

function matches(item, filter) {
  if (filter === 'mine') return item.agent_username === desk.me.username;
  if (filter === 'unassigned') return !item.agent_username;
  if (filter === 'waiting') return item.status === 'waiting';
  return true;
}

function renderList() {
  const list = $('live-list');
  const focused = document.activeElement && list.contains(document.activeElement)
    ? document.activeElement.closest('li') && document.activeElement.closest('li').getAttribute('data-id') : null;
  list.replaceChildren();
  for (const name of FILTERS) {
    const count = desk.items.filter((item) => matches(item, name)).length;
    const button = $('desk-filter-' + name);
    button.setAttribute('aria-pressed', String(desk.filter === name));
    button.querySelector('.count').textContent = String(count);
  }
  const shown = desk.items.filter((item) => matches(item, desk.filter));
  for (const item of shown) list.appendChild(renderItem(item));
  if (!shown.length) list.appendChild(el('li', { class: 'empty' }, desk.items.length ? 'Nothing under this filter.' : 'Nobody is waiting.'));
  if (focused) {
    const again = list.querySelector('li[data-id="' + CSS.escape(focused) + '"] a');
    if (again) again.focus();
  }
  const waiting = desk.items.filter((c) => c.status === 'waiting').length;
  const badge = $('waiting-count');
  badge.textContent = String(waiting);
  badge.hidden = waiting === 0;
}

function renderItem(item) {
  const li = el('li', { class: 'desk-item', 'data-id': item.id, 'data-status': item.status });
  if (item.id === desk.openId) li.classList.add('open');
  const unread = item.id === desk.openId ? 0 : unreadOf(item);
  const link = el('a', { href: '#live/' + item.id });
  if (item.id === desk.openId) link.setAttribute('aria-current', 'true');
  const top = el('span', { class: 'item-top' });
  top.append(
    el('span', { class: 'state ' + item.status }, item.status === 'waiting' ? 'Waiting' : 'With agent'),
    el('span', { class: 'assignee' }, item.agent_name ? item.agent_name : 'unassigned'),
    el('span', { class: 'wait' }, waitingText(item)),
  );
  const latest = item.latest || { role: 'user', text: item.preview || '' };
  const who = latest.role === 'user' ? 'Customer: ' : latest.role === 'bot' ? 'Bot: ' : 'Agent: ';
  const preview = el('span', { class: 'latest' }, who + latest.text);
  link.append(top, preview);
  if (unread) {
    link.appendChild(el('span', { class: 'unread', 'aria-label': unread + ' unread' }, unread > 99 ? '99+' : String(unread)));
  }
  li.appendChild(link);
  return li;
}

function waitingText(item) {
  if (!item.waiting_since) return '';
  const minutes = Math.max(0, Math.floor((Date.now() - new Date(item.waiting_since).getTime()) / 60000));
  if (minutes < 1) return 'waiting <1 min';
  if (minutes < 60) return 'waiting ' + minutes + ' min';
  return 'waiting ' + Math.floor(minutes / 60) + ' h ' + (minutes % 60) + ' min';
}

// Keyboard: the next or previous conversation of the list.
export function stepConversation(delta) {
  const shown = desk.items.filter((item) => matches(item, desk.filter));
  if (!shown.length) return;
  const at = shown.findIndex((item) => item.id === desk.openId);
  const next = shown[(at + delta + shown.length) % shown.length];
  window.location.hash = 'live/' + next.id;
}

// ------------------------------------------------------------- alerts --
function alertsOn() {
  try { return window.localStorage.getItem(ALERTS_KEY) === 'on'; } catch (e) { return false; }
}

function renderAlertsButton() {
  const on = alertsOn();
  $('desk-alerts').setAttribute('aria-pressed', String(on));
  $('desk-alerts').textContent = on ? 'Alerts on' : 'Alert me';
}

async function toggleAlerts() {
  const on = !alertsOn();
  if (on && 'Notification' in window && Notification.permission === 'default') {
    await Notification.requestPermission();
  }
  try { window.localStorage.setItem(ALERTS_KEY, on ? 'on' : 'off'); } catch (e) { /* private mode */ }
  renderAlertsButton();
}

function alertNewWaiting(items) {
  const waiting = new Set(items.filter((c) => c.status === 'waiting').map((c) => c.id));
  const before = desk.knownWaiting;
  desk.knownWaiting = waiting;
  if (before === null || !alertsOn()) return;
  const fresh = items.filter((c) => waiting.has(c.id) && !before.has(c.id));
  if (!fresh.length) return;
  beep();
  if ('Notification' in window && Notification.permission === 'granted') {
    const first = fresh[0];
    const note = new Notification('A customer is waiting', { body: (first.latest && first.latest.text) || first.preview || '', tag: first.id });
    note.onclick = () => { window.focus(); window.location.hash = 'live/' + first.id; };
  }
  window.__deskAlerts = (window.__deskAlerts || 0) + fresh.length; // read by the browser tests
}

function beep() {
  try {
    const audio = new (window.AudioContext || window.webkitAudioContext)();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.4);
  } catch (e) { /* no audio: the notification still shows */ }
}

// --------------------------------------------------------- side panel --
export function renderSide(conversation) {
  const mine = conversation.agent_username === desk.me.username;
  $('side-assignee').textContent = conversation.agent_name ? conversation.agent_name : 'nobody';
  $('assign-me').hidden = mine || conversation.status === 'closed' || conversation.status === 'agent';
  $('unassign').hidden = !mine || conversation.status !== 'waiting';
  if (!$('assign-form').hidden) {
    $('assign-form').querySelector('button').hidden = conversation.status === 'closed';
    if (!desk.assigneesLoaded) { desk.assigneesLoaded = true; attempt(loadAssignees); }
    // The panel re-renders on every live event: the picker follows the server only when the
    // conversation or its assignee changed, never undoing a choice the operator is making.
    const assignee = conversation.agent_username || '';
    if (desk.sideFor !== conversation.id || desk.currentAssignee !== assignee) {
      desk.currentAssignee = assignee;
      $('assign-to').value = assignee;
    }
  }
  if (desk.sideFor !== conversation.id) {
    desk.sideFor = conversation.id;
    $('model-view').replaceChildren(el('p', { class: 'hint' }, 'Select a customer message to see what the model made of it.'));
    attempt(() => loadCustomer(conversation.id));
    attempt(() => loadNotes(conversation.id));
  }
}

export function clearSide() {
  desk.sideFor = null;
}

// Operators assign to anyone (agents only to themselves): the list of active staff.
async function loadAssignees() {
  const data = await api('GET', '/api/assignees');
  const select = $('assign-to');
  select.replaceChildren(el('option', { value: '' }, 'nobody'));
  for (const person of data.assignees) {
    select.appendChild(el('option', { value: person.username }, person.display_name + ' (' + person.username + ')'));
  }
  select.value = desk.currentAssignee || '';
}

async function loadCustomer(id) {
  const data = await api('GET', '/api/conversations/' + encodeURIComponent(id) + '/customer');
  if (desk.sideFor !== id) return;
  const facts = $('customer-facts');
  facts.replaceChildren();
  const context = data.context || {};
  const rows = [
    ['Page', context.page_url], ['Came from', context.referrer], ['Browser', context.browser], ['Language', context.language],
  ];
  for (const [name, value] of rows) {
    facts.append(el('dt', null, name), el('dd', null, value || '–'));
  }
  const earlier = $('earlier-conversations');
  earlier.replaceChildren();
  for (const c of data.earlier) {
    const link = el('a', { href: '#c/' + c.id }, when(c.created_at) + ' · ' + c.messages + ' messages');
    const item = el('li');
    item.append(link, el('div', { class: 'hint' }, c.preview || '(no customer message)'));
    earlier.appendChild(item);
  }
  if (!data.earlier.length) earlier.appendChild(el('li', { class: 'hint' }, data.customer_id ? 'None from this browser.' : 'Unknown (no customer id).'));
}

async function loadNotes(id) {
  const data = await api('GET', '/api/conversations/' + encodeURIComponent(id) + '/notes');
  if (desk.sideFor !== id) return;
  const list = $('note-list');
  list.replaceChildren();
  for (const note of data.notes) {
    const item = el('li');
    item.append(el('div', { class: 'meta' }, note.author + ' · ' + when(note.created_at)), el('div', { class: 'text' }, note.text));
    list.appendChild(item);
  }
  if (!data.notes.length) list.appendChild(el('li', { class: 'hint' }, 'No notes yet. Only staff see them.'));
}

async function addNote() {
  const id = desk.sideFor;
  const box = $('note-text');
  const text = box.value.trim();
  if (!id || !text) return;
  await api('POST', '/api/conversations/' + encodeURIComponent(id) + '/notes', { text: text });
  box.value = '';
  await loadNotes(id);
}

async function assign(username) {
  // The conversation on screen: the desk's open one, else the transcript's (review mode).
  const id = desk.openId || desk.sideFor;
  if (!id) return;
  await api('POST', '/api/conversations/' + encodeURIComponent(id) + '/assign', { username: username });
  await loadDeskList();
  if (desk.onAssigned) await desk.onAssigned();
}

// The model's view of one turn: the full card (prediction, alternatives, label, relabel).
export function showModelView(message) {
  const box = $('model-view');
  box.replaceChildren();
  const list = el('ol', { class: 'transcript model-card' });
  list.appendChild(renderTurn(message, desk.labelling));
  box.appendChild(list);
}
