/*
 * Staff console: conversation review, labelling, live hand-off, ratings. Plain ES modules, no build.
 *
 * Security: every piece of text from the server (customer messages above all) is rendered with
 * textContent (see api.js: el); innerHTML is never used. State-changing requests carry the
 * session's CSRF token in the X-CSRF-Token header.
 */
import {
  $, ApiError, api, attempt, cell, el, notice, number, queryString, setCsrfToken, toLogin, when,
} from './api.js';
import { createAccount, loadAccounts, loadProposals, loadRatings } from './admin.js';
import { leaveRounds, loadRounds, openRound, wireRounds } from './rounds.js';
import { loadAnalytics } from './analytics.js';
import { loadClusters } from './insights.js';
import { eraseConversations, loadPrivacy, wirePrivacy } from './privacy.js';
import { closeContentEditor, loadContent, openContentItem, wireContent } from './content.js';
import { LiveSocket } from './socket.js';
import { renderBubble, renderTurn } from './turns.js';
import {
  clearSide, initDesk, loadDeskList, markSeen, renderSide, setOpenConversation, showModelView, stepConversation,
} from './desk.js';
import { loadCannedReplies, wireCannedReplies, wireCannedTab } from './canned.js';


const PAGE_SIZE = 25;
const TYPING_EVERY_MS = 2000;
const ROLES = ['agent', 'operator', 'admin'];

const state = {
  me: null,
  intents: [],
  outOfScope: 'out_of_scope',
  proposals: [],
  page: 1,
  queuePage: 1,
  conversationId: null,
  conversation: null,
  lastSeq: 0,
  // The lowest already-shown seq to fetch again: a customer turn can be fetched in the moment
  // between being stored and its prediction being stored; its own live event says it is complete.
  refetchFrom: null,
  highlight: null,
  refreshing: null,
  refreshAgain: false,
  lastTyping: 0,
  // The live desk (hash live/<id>): chat bubbles, the conversation list on the left.
  deskMode: false,
  selectedSeq: null,
  messages: new Map(),
  unseen: 0,
  // Whether the chat sticks to its newest message (the agent has not scrolled up).
  pinned: true,
  queueItems: [],
};
const NEAR_BOTTOM_PX = 80;
const CUSTOMER_TYPING_MS = 3000;

function roleAtLeast(role) {
  return state.me !== null && ROLES.indexOf(state.me.role) >= ROLES.indexOf(role);
}

const labelling = {
  choices: labelChoices,
  get outOfScope() { return state.outOfScope; },
  onProposed: () => loadIntents(),
};

// -------------------------------------------------------------- routing --
const VIEWS = ['conversations', 'queue', 'ratings', 'analytics', 'clusters', 'proposals', 'accounts', 'transcript', 'privacy', 'content', 'rounds', 'round', 'canned'];

function route() {
  const hash = decodeURIComponent(window.location.hash.slice(1));
  leaveRounds();
  if (hash.startsWith('c/')) {
    const [id, query] = hash.slice(2).split('?');
    const highlight = new URLSearchParams(query || '').get('m');
    showView('transcript');
    openTranscript(id, highlight, false);
    return;
  }
  if (hash === 'live' || hash.startsWith('live/')) {
    showView('transcript', 'live');
    const id = hash.startsWith('live/') ? hash.slice(5) : null;
    if (id) openTranscript(id, null, true);
    else { leaveTranscript(); showDesk(true, false); }
    attempt(loadDeskList);
    return;
  }
  if (hash.startsWith('content/')) {
    leaveTranscript();
    showView('content');
    attempt(() => openContentItem(roleAtLeast('operator'), hash.slice('content/'.length)));
    return;
  }
  if (hash.startsWith('r/')) {
    leaveTranscript();
    showView('round');
    openRound(hash.slice(2));
    return;
  }
  const view = VIEWS.includes(hash) && !['transcript', 'round'].includes(hash) ? hash : 'conversations';
  leaveTranscript();
  showView(view);
  const loaders = {
    conversations: loadConversations,
    queue: loadQueue,
    canned: () => loadCannedReplies(roleAtLeast('operator')),
    ratings: loadRatings,
    analytics: loadAnalytics,
    clusters: () => loadClusters(roleAtLeast('operator')),
    proposals: () => loadProposals(roleAtLeast('operator'), loadIntents),
    accounts: () => (roleAtLeast('admin') ? loadAccounts() : undefined),
    rounds: () => (roleAtLeast('operator') ? loadRounds() : undefined),
    privacy: () => (roleAtLeast('admin') ? loadPrivacy() : undefined),
    content: () => { closeContentEditor(); return loadContent(roleAtLeast('operator')); },
  };
  attempt(loaders[view]);
}

function showView(view, tab) {
  for (const name of VIEWS) $('view-' + name).hidden = name !== view;
  for (const link of document.querySelectorAll('#tabs a')) {
    const active = link.getAttribute('data-tab') === (tab || view);
    link.classList.toggle('active', active);
    if (active) link.setAttribute('aria-current', 'page'); else link.removeAttribute('aria-current');
  }
}

// The desk's panes: the list on the left in desk mode, the chat and side panel when one is open.
function showDesk(deskMode, open) {
  state.deskMode = deskMode;
  $('desk').classList.toggle('desk-mode', deskMode);
  $('desk-pane').hidden = !deskMode;
  $('desk-empty').hidden = open;
  $('transcript-header').hidden = !open;
  $('transcript').hidden = !open;
  $('desk-side').hidden = !open;
  if (!open) { $('agent-composer').hidden = true; $('new-messages').hidden = true; }
}

// -------------------------------------------------------- conversations --
function filterValues() {
  const values = {};
  for (const [key, value] of new FormData($('filters')).entries()) values[key] = String(value).trim();
  return values;
}

async function loadConversations() {
  const query = queryString({ ...filterValues(), page: state.page, page_size: PAGE_SIZE });
  const data = await api('GET', '/api/conversations?' + query);
  const body = $('conversation-list').tBodies[0];
  body.replaceChildren();
  for (const item of data.items) {
    const row = el('tr', { class: 'clickable', 'data-id': item.id });
    row.append(
      cell(when(item.updated_at)),
      cell(item.preview || '(no customer message)', 'text preview'),
      cell(item.status + (item.agent_name ? ' · ' + item.agent_name : '')),
      cell(item.messages),
      cell(number(item.lowest_confidence)),
      cell(item.thumbs_down || ''),
      cell(item.csat === null ? '' : item.csat + ' / 5'),
      cell(item.reviewed_by ? 'yes (' + item.reviewed_by + ')' : 'no'),
    );
    row.addEventListener('click', () => { window.location.hash = 'c/' + item.id; });
    body.appendChild(row);
  }
  if (!data.items.length) {
    const row = el('tr');
    row.appendChild(el('td', { colspan: 8, class: 'empty' }, 'No conversations match.'));
    body.appendChild(row);
  }
  const pages = Math.max(1, Math.ceil(data.total / data.page_size));
  $('page-info').textContent = 'Page ' + data.page + ' of ' + pages + ' · ' + data.total + ' conversations';
  $('prev-page').disabled = data.page <= 1;
  $('next-page').disabled = data.page >= pages;
}

// ---------------------------------------------------------------- queue --
async function loadQueue() {
  const data = await api('GET', '/api/review-queue?' + queryString({ page: state.queuePage, page_size: PAGE_SIZE }));
  const body = $('queue-list').tBodies[0];
  body.replaceChildren();
  state.queueItems = data.items;
  for (const item of data.items) {
    const row = el('tr', { 'data-message-id': item.message_id, tabindex: '-1' });
    const signals = [];
    if (item.out_of_scope) signals.push('judged out of scope');
    if (item.thumbs_down) signals.push('thumbs-down');
    if (item.suggestion_click) signals.push('suggestion click');
    const tick = el('input', { type: 'checkbox', class: 'queue-tick', 'aria-label': 'Tick: ' + item.text.slice(0, 60) });
    tick.addEventListener('change', countTicked);
    const tickCell = el('td');
    tickCell.appendChild(tick);
    const open = el('a', { href: '#c/' + item.conversation_id + '?m=' + item.message_id }, 'Open');
    const openCell = el('td');
    openCell.appendChild(open);
    row.append(
      tickCell,
      cell(number(item.score)),
      cell(item.text, 'text'),
      cell(item.intent + (item.out_of_scope ? ' (out of scope)' : ''), item.out_of_scope ? 'out-of-scope' : null),
      cell(number(item.confidence)),
      cell(number(item.margin)),
      cell(signals.join(', ')),
      openCell,
    );
    body.appendChild(row);
  }
  $('queue-all').checked = false;
  countTicked();
  const pages = Math.max(1, Math.ceil(data.total / data.page_size));
  $('queue-info').textContent = 'Page ' + data.page + ' of ' + pages + ' · ' + data.total + ' turns to review';
  $('queue-prev').disabled = data.page <= 1;
  $('queue-next').disabled = data.page >= pages;
}

function tickedIds() {
  return Array.from(document.querySelectorAll('#queue-list .queue-tick:checked'))
    .map((box) => Number(box.closest('tr').getAttribute('data-message-id')));
}

function countTicked() {
  $('queue-selected').textContent = String(tickedIds().length);
}

async function labelTicked(intent) {
  const ids = tickedIds();
  if (!ids.length || !intent) return;
  const result = await api('POST', '/api/labels', { message_ids: ids, intent: intent });
  await loadQueue();
  $('queue-result').textContent = result.labelled + ' turns labelled ' + result.intent + '.';
}

// ----------------------------------------------------------------- live --
// The waiting count in the tab and the desk's list, from one request.
async function refreshWaitingCount() {
  await loadDeskList();
}

// -------------------------------------------------------------- intents --
async function loadIntents() {
  const data = await api('GET', '/api/intents');
  state.intents = data.intents;
  state.outOfScope = data.out_of_scope;
  state.proposals = data.proposals;
  for (const select of document.querySelectorAll('select.intent-options')) {
    const chosen = select.value;
    select.replaceChildren(el('option', { value: '' }, select.getAttribute('data-blank') || 'any'));
    for (const name of labelChoices().concat([state.outOfScope])) select.appendChild(el('option', { value: name }, name));
    select.value = chosen;
  }
}

function labelChoices() {
  return state.intents.concat(state.proposals.map((p) => p.name).filter((n) => !state.intents.includes(n)));
}

// ----------------------------------------------------------- transcript --
function openTranscript(id, highlight, deskMode) {
  if (state.conversationId !== id || state.deskMode !== deskMode) {
    state.conversationId = id;
    state.conversation = null;
    state.lastSeq = 0;
    state.refetchFrom = null;
    state.selectedSeq = null;
    state.messages = new Map();
    state.unseen = 0;
    state.pinned = true;
    $('transcript').replaceChildren();
    $('new-messages').hidden = true;
    $('customer-typing').textContent = '';
    clearSide();
    watch(id);
  }
  showDesk(deskMode, true);
  setOpenConversation(deskMode ? id : null);
  state.highlight = highlight;
  attempt(refreshTranscript);
}

function leaveTranscript() {
  setOpenConversation(null);
  if (state.conversationId === null) return;
  state.conversationId = null;
  state.conversation = null;
  watch(null);
}

// One refresh at a time; a request meanwhile runs once more afterwards, so nothing is missed
// and no message is appended twice.
async function refreshTranscript() {
  if (state.refreshing) {
    state.refreshAgain = true;
    return state.refreshing;
  }
  state.refreshing = (async () => {
    try {
      do {
        state.refreshAgain = false;
        await fetchNewTurns();
      } while (state.refreshAgain);
    } finally {
      state.refreshing = null;
    }
  })();
  return state.refreshing;
}

function nearBottom(list) {
  return list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_BOTTOM_PX;
}

function renderMessage(message) {
  if (!state.deskMode) return renderTurn(message, labelling);
  const bubble = renderBubble(message, () => selectTurn(message.seq));
  if (message.seq === state.selectedSeq) bubble.classList.add('selected');
  return bubble;
}

async function fetchNewTurns() {
  const id = state.conversationId;
  if (id === null) return;
  const after = state.refetchFrom === null ? state.lastSeq : Math.min(state.lastSeq, state.refetchFrom - 1);
  state.refetchFrom = null;
  const data = await api('GET', '/api/conversations/' + encodeURIComponent(id) + '?after_seq=' + after);
  if (id !== state.conversationId) return;
  state.conversation = data.conversation;
  renderHeader(data.conversation);
  renderSide(data.conversation);
  const list = $('transcript');
  const first = state.lastSeq === 0;
  // Where the view is now (the scroll event that updates `pinned` may not have run yet).
  const follow = first || nearBottom(list);
  let added = 0;
  for (const message of data.messages) {
    state.messages.set(message.seq, message);
    if (message.seq <= state.lastSeq) {
      const shown = list.querySelector('li[data-seq="' + message.seq + '"]');
      if (shown) shown.replaceWith(renderMessage(message));
      if (message.seq === state.selectedSeq) showModelView(message);
      continue;
    }
    list.appendChild(renderMessage(message));
    state.lastSeq = message.seq;
    added += 1;
  }
  if (state.highlight) {
    const target = list.querySelector('[data-message-id="' + CSS.escape(state.highlight) + '"]');
    if (target) {
      target.classList.add('highlight');
      target.scrollIntoView({ block: 'center' });
      state.highlight = null;
    }
  } else if (follow) {
    // The newest message is what an agent needs: the list follows it unless they scrolled up.
    list.scrollTop = list.scrollHeight;
    state.pinned = true;
    seenAll();
  } else if (added) {
    state.unseen += added;
    const marker = $('new-messages');
    marker.textContent = state.unseen + (state.unseen === 1 ? ' new message' : ' new messages') + ' ↓';
    marker.hidden = false;
  }
}

function seenAll() {
  state.unseen = 0;
  $('new-messages').hidden = true;
  if (state.deskMode) markSeen(state.conversationId, state.lastSeq);
}

// The model's view of a turn in the side panel; a bot reply shows the customer turn it answered.
function selectTurn(seq) {
  let message = state.messages.get(seq);
  if (!message) return;
  if (message.role === 'bot' && message.reply_to_id) {
    for (const m of state.messages.values()) if (m.id === message.reply_to_id) { message = m; break; }
  }
  for (const shown of document.querySelectorAll('#transcript li.selected')) shown.classList.remove('selected');
  state.selectedSeq = message.seq;
  const bubble = $('transcript').querySelector('li[data-seq="' + message.seq + '"]');
  if (bubble) bubble.classList.add('selected');
  showModelView(message);
}

function stepTurn(delta) {
  const customerSeqs = Array.from(state.messages.values()).filter((m) => m.role === 'user').map((m) => m.seq);
  if (!customerSeqs.length) return;
  const at = customerSeqs.indexOf(state.selectedSeq);
  const next = at < 0 ? customerSeqs[delta > 0 ? 0 : customerSeqs.length - 1]
    : customerSeqs[Math.max(0, Math.min(customerSeqs.length - 1, at + delta))];
  selectTurn(next);
  const bubble = $('transcript').querySelector('li[data-seq="' + next + '"]');
  if (bubble) { bubble.scrollIntoView({ block: 'nearest' }); bubble.focus(); }
}

function renderHeader(c) {
  $('t-status').textContent = c.status;
  $('t-agent').textContent = c.agent_name ? (c.status === 'agent' ? 'with ' : 'assigned to ') + c.agent_name : '';
  $('t-created').textContent = 'started ' + when(c.created_at);
  $('t-csat').textContent = c.csat === null ? 'not rated' : 'CSAT ' + c.csat + ' / 5';
  const comment = c.csat_history && c.csat_history.length ? c.csat_history[c.csat_history.length - 1].comment : '';
  $('t-csat').title = comment || '';
  $('t-reviewed').textContent = c.reviewed_by ? 'reviewed by ' + c.reviewed_by : 'not reviewed';
  $('mark-reviewed').textContent = c.reviewed_by ? 'Mark not reviewed' : 'Mark reviewed';
  const mine = c.status === 'agent' && c.agent_username === state.me.username;
  const supervisor = roleAtLeast('operator');
  $('take-over').hidden = c.status === 'agent';
  $('hand-back').hidden = !(c.status === 'agent' && (mine || supervisor));
  $('close-chat').hidden = c.status === 'closed' || (c.status === 'agent' && !mine && !supervisor);
  $('agent-composer').hidden = !mine;
}


async function conversationAction(path, body) {
  const id = state.conversationId;
  await api('POST', '/api/conversations/' + encodeURIComponent(id) + path, body);
  await refreshTranscript();
}

function overrideBody() {
  const c = state.conversation;
  const mine = c && c.agent_username === state.me.username;
  return { override: Boolean(c && c.status === 'agent' && !mine) };
}

// ------------------------------------------------------------ live events --
const socket = new LiveSocket(onSocketOpen, onEvent);

function onSocketOpen() {
  if (state.conversationId) socket.send({ type: 'watch', conversation_id: state.conversationId });
  // Anything that happened while the socket was down.
  if (state.conversationId) attempt(refreshTranscript);
  attempt(refreshWaitingCount);
}

function watch(conversationId) { socket.send({ type: 'watch', conversation_id: conversationId }); }

let liveTimer = null;
let listTimer = null;
// The conversation list follows live events (hand-offs, agent chats) at once, and bot-only chats,
// which do not reach every console, by a slow poll while the list is on screen.
const LIST_POLL_MS = 20000;
function refreshListSoon(delay) {
  clearTimeout(listTimer);
  listTimer = setTimeout(() => {
    if (!$('view-conversations').hidden && !document.hidden) attempt(loadConversations);
    refreshListSoon(LIST_POLL_MS);
  }, delay);
}

function onEvent(frame) {
  if ((frame.type === 'status' || frame.type === 'activity') && !$('view-conversations').hidden) {
    refreshListSoon(300);
  }
  const open = frame.conversation_id && frame.conversation_id === state.conversationId;
  if (frame.type === 'status') {
    deskListSoon();
    if (open) attempt(refreshTranscript);
  } else if (frame.type === 'message' || frame.type === 'csat') {
    // Even when a refresh is in flight: it may be reading this turn without its prediction.
    if (open && frame.type === 'message') {
      state.refetchFrom = state.refetchFrom === null ? frame.seq : Math.min(state.refetchFrom, frame.seq);
      if (frame.role === 'user') $('customer-typing').textContent = '';
    }
    if (open) attempt(refreshTranscript);
  } else if (frame.type === 'activity') {
    deskListSoon();
  } else if (frame.type === 'typing' && open && frame.role !== 'agent') {
    showCustomerTyping();
  }
}

function deskListSoon() {
  clearTimeout(liveTimer);
  liveTimer = setTimeout(() => attempt(loadDeskList), 300);
}

let typingTimer = null;
function showCustomerTyping() {
  $('customer-typing').textContent = 'The customer is typing…';
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => { $('customer-typing').textContent = ''; }, CUSTOMER_TYPING_MS);
}

// ----------------------------------------------------- keyboard shortcuts --
// Single keys, only while no text field has the focus (there they type); Escape leaves a field.
const SHORTCUTS = {
  j: () => stepConversation(1),
  k: () => stepConversation(-1),
  t: () => { if (!$('take-over').hidden) $('take-over').click(); },
  r: () => { if (!$('agent-composer').hidden) $('agent-text').focus(); },
  n: () => { if (!$('desk-side').hidden) $('note-text').focus(); },
  '[': () => stepTurn(-1),
  ']': () => stepTurn(1),
  c: () => clickInModelView('button.confirm'),
  o: () => clickInModelView('button.out-of-scope'),
  x: () => tickFocusedQueueRow(),
};

function clickInModelView(selector) {
  const button = $('model-view').querySelector(selector) || (document.activeElement && document.activeElement.closest
    && document.activeElement.closest('li.turn') && document.activeElement.closest('li.turn').querySelector(selector));
  if (button) button.click();
}

function tickFocusedQueueRow() {
  const row = document.activeElement && document.activeElement.closest && document.activeElement.closest('#queue-list tr');
  const box = row && row.querySelector('.queue-tick');
  if (box) { box.checked = !box.checked; countTicked(); }
}

function typingInField(target) {
  if (!target) return false;
  if (target.tagName === 'INPUT' && ['checkbox', 'radio', 'button', 'submit'].includes(target.type)) return false;
  return target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName);
}

function onShortcut(event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (typingInField(event.target)) {
    if (event.key === 'Escape' && event.target.id === 'agent-text') event.target.blur();
    return;
  }
  const deskOnly = !'x'.includes(event.key);
  if (deskOnly && $('view-transcript').hidden) return;
  // The next or previous chat of the list: only where the list is (the desk, not a review).
  if ('jk'.includes(event.key) && !state.deskMode) return;
  const action = SHORTCUTS[event.key];
  if (!action) return;
  event.preventDefault();
  action();
}

// --------------------------------------------------------------- wiring --
function wire() {
  $('filters').addEventListener('submit', (event) => {
    event.preventDefault();
    state.page = 1;
    attempt(loadConversations);
  });
  $('filters').addEventListener('reset', () => {
    state.page = 1;
    setTimeout(() => attempt(loadConversations), 0);
  });
  $('prev-page').addEventListener('click', () => { state.page -= 1; attempt(loadConversations); });
  $('next-page').addEventListener('click', () => { state.page += 1; attempt(loadConversations); });
  $('queue-prev').addEventListener('click', () => { state.queuePage -= 1; attempt(loadQueue); });
  $('queue-next').addEventListener('click', () => { state.queuePage += 1; attempt(loadQueue); });
  $('logout').addEventListener('click', () => {
    api('POST', '/api/auth/logout').finally(toLogin);
  });
  $('mark-reviewed').addEventListener('click', () => attempt(() => {
    const reviewed = !(state.conversation && state.conversation.reviewed_by);
    return conversationAction('/reviewed', { reviewed: reviewed });
  }));
  $('take-over').addEventListener('click', () => attempt(() => conversationAction('/take-over')));
  $('hand-back').addEventListener('click', () => attempt(() => conversationAction('/hand-back', overrideBody())));
  $('close-chat').addEventListener('click', () => attempt(() => conversationAction('/close', overrideBody())));
  $('agent-composer').addEventListener('submit', (event) => {
    event.preventDefault();
    const box = $('agent-text');
    const text = box.value.trim();
    if (!text) return;
    attempt(async () => {
      await conversationAction('/messages', { text: text });
      box.value = '';
    });
  });
  $('agent-text').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $('agent-composer').requestSubmit();
    }
  });
  wireCannedReplies($('agent-text'));
  $('agent-text').addEventListener('input', () => {
    const now = Date.now();
    if (state.conversationId && now - state.lastTyping > TYPING_EVERY_MS) {
      state.lastTyping = now;
      socket.send({ type: 'typing', conversation_id: state.conversationId });
    }
  });
  $('new-account').addEventListener('submit', (event) => {
    event.preventDefault();
    attempt(() => createAccount(event.target));
  });
  wireContent();
  wirePrivacy();
  $('erase-conversation').addEventListener('click', () => attempt(async () => {
    if (state.conversationId && await eraseConversations([state.conversationId])) window.location.hash = 'privacy';
  }));
  wireRounds();
  $('transcript').addEventListener('scroll', () => {
    state.pinned = nearBottom($('transcript'));
    if (state.pinned) seenAll();
  });
  // The composer appearing (after a take-over) or a resized window must not hide the newest message.
  new ResizeObserver(() => {
    if (state.pinned) $('transcript').scrollTop = $('transcript').scrollHeight;
  }).observe($('transcript'));
  $('new-messages').addEventListener('click', () => {
    $('transcript').scrollTop = $('transcript').scrollHeight;
    seenAll();
    $('transcript').focus();
  });
  $('queue-bulk').addEventListener('submit', (event) => {
    event.preventDefault();
    attempt(() => labelTicked(event.target.elements.intent.value));
  });
  $('queue-all').addEventListener('change', (event) => {
    for (const box of document.querySelectorAll('#queue-list .queue-tick')) box.checked = event.target.checked;
    countTicked();
  });
  wireCannedTab(() => roleAtLeast('operator'));
  document.addEventListener('keydown', onShortcut);
  window.addEventListener('hashchange', route);
}

async function start() {
  const me = await api('GET', '/api/auth/me');
  state.me = me.user;
  setCsrfToken(me.csrf_token);
  $('whoami').textContent = me.user.display_name + ' (' + me.user.username + ', ' + me.user.role + ')';
  for (const link of document.querySelectorAll('[data-needs-role]')) {
    link.hidden = !roleAtLeast(link.getAttribute('data-needs-role'));
  }
  initDesk(state.me, labelling, refreshTranscript);
  wire();
  await loadIntents();
  socket.connect();
  route();
  refreshListSoon(LIST_POLL_MS);
}

start().catch((error) => {
  if (!(error instanceof ApiError && error.status === 401)) notice(error.message || String(error));
});
