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
import { eraseConversations, loadPrivacy, wirePrivacy } from './privacy.js';
import { closeContentEditor, loadContent, openContentItem, wireContent } from './content.js';
import { LiveSocket } from './socket.js';
import { renderTurn } from './turns.js';


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
};

function roleAtLeast(role) {
  return state.me !== null && ROLES.indexOf(state.me.role) >= ROLES.indexOf(role);
}

const labelling = {
  choices: labelChoices,
  get outOfScope() { return state.outOfScope; },
  onProposed: () => loadIntents(),
};

// -------------------------------------------------------------- routing --
const VIEWS = ['conversations', 'queue', 'live', 'ratings', 'proposals', 'accounts', 'transcript', 'privacy', 'content', 'rounds', 'round'];

function route() {
  const hash = decodeURIComponent(window.location.hash.slice(1));
  leaveRounds();
  if (hash.startsWith('c/')) {
    const [id, query] = hash.slice(2).split('?');
    const highlight = new URLSearchParams(query || '').get('m');
    showView('transcript');
    openTranscript(id, highlight);
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
    live: loadLive,
    ratings: loadRatings,
    proposals: () => loadProposals(roleAtLeast('operator'), loadIntents),
    accounts: () => (roleAtLeast('admin') ? loadAccounts() : undefined),
    rounds: () => (roleAtLeast('operator') ? loadRounds() : undefined),
    privacy: () => (roleAtLeast('admin') ? loadPrivacy() : undefined),
    content: () => { closeContentEditor(); return loadContent(roleAtLeast('operator')); },
  };
  attempt(loaders[view]);
}

function showView(view) {
  for (const name of VIEWS) $('view-' + name).hidden = name !== view;
  for (const link of document.querySelectorAll('#tabs a')) {
    link.classList.toggle('active', link.getAttribute('data-tab') === view);
  }
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
  for (const item of data.items) {
    const row = el('tr', { class: 'clickable', 'data-message-id': item.message_id });
    const signals = [];
    if (item.thumbs_down) signals.push('thumbs-down');
    if (item.suggestion_click) signals.push('suggestion click');
    row.append(
      cell(number(item.score)),
      cell(item.text, 'text'),
      cell(item.intent),
      cell(number(item.confidence)),
      cell(number(item.margin)),
      cell(signals.join(', ')),
    );
    row.addEventListener('click', () => {
      window.location.hash = 'c/' + item.conversation_id + '?m=' + item.message_id;
    });
    body.appendChild(row);
  }
  const pages = Math.max(1, Math.ceil(data.total / data.page_size));
  $('queue-info').textContent = 'Page ' + data.page + ' of ' + pages + ' · ' + data.total + ' turns to review';
  $('queue-prev').disabled = data.page <= 1;
  $('queue-next').disabled = data.page >= pages;
}

// ----------------------------------------------------------------- live --
async function loadLive() {
  const data = await api('GET', '/api/live');
  updateWaitingCount(data.conversations);
  const body = $('live-list').tBodies[0];
  body.replaceChildren();
  for (const item of data.conversations) {
    const row = el('tr', { class: 'clickable', 'data-id': item.id, 'data-status': item.status });
    row.append(
      cell(item.status === 'waiting' ? 'waiting' : 'with an agent'),
      cell(item.agent_name || ''),
      cell(item.preview, 'text'),
      cell(when(item.updated_at)),
      cell(item.messages),
    );
    row.addEventListener('click', () => { window.location.hash = 'c/' + item.id; });
    body.appendChild(row);
  }
  if (!data.conversations.length) {
    const row = el('tr');
    row.appendChild(el('td', { colspan: 5, class: 'empty' }, 'Nobody is waiting.'));
    body.appendChild(row);
  }
}

function updateWaitingCount(conversations) {
  const waiting = conversations.filter((c) => c.status === 'waiting').length;
  const badge = $('waiting-count');
  badge.textContent = String(waiting);
  badge.hidden = waiting === 0;
}

async function refreshWaitingCount() {
  const data = await api('GET', '/api/live');
  updateWaitingCount(data.conversations);
}

// -------------------------------------------------------------- intents --
async function loadIntents() {
  const data = await api('GET', '/api/intents');
  state.intents = data.intents;
  state.outOfScope = data.out_of_scope;
  state.proposals = data.proposals;
  for (const select of document.querySelectorAll('select.intent-options')) {
    const chosen = select.value;
    select.replaceChildren(el('option', { value: '' }, 'any'));
    for (const name of labelChoices().concat([state.outOfScope])) select.appendChild(el('option', { value: name }, name));
    select.value = chosen;
  }
}

function labelChoices() {
  return state.intents.concat(state.proposals.map((p) => p.name).filter((n) => !state.intents.includes(n)));
}

// ----------------------------------------------------------- transcript --
function openTranscript(id, highlight) {
  if (state.conversationId !== id) {
    state.conversationId = id;
    state.conversation = null;
    state.lastSeq = 0;
    state.refetchFrom = null;
    $('transcript').replaceChildren();
    watch(id);
  }
  state.highlight = highlight;
  attempt(refreshTranscript);
}

function leaveTranscript() {
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

async function fetchNewTurns() {
  const id = state.conversationId;
  if (id === null) return;
  const after = state.refetchFrom === null ? state.lastSeq : Math.min(state.lastSeq, state.refetchFrom - 1);
  state.refetchFrom = null;
  const data = await api('GET', '/api/conversations/' + encodeURIComponent(id) + '?after_seq=' + after);
  if (id !== state.conversationId) return;
  state.conversation = data.conversation;
  renderHeader(data.conversation);
  const list = $('transcript');
  for (const message of data.messages) {
    if (message.seq <= state.lastSeq) {
      const shown = list.querySelector('li.turn[data-seq="' + message.seq + '"]');
      if (shown) shown.replaceWith(renderTurn(message, labelling));
      continue;
    }
    list.appendChild(renderTurn(message, labelling));
    state.lastSeq = message.seq;
  }
  if (state.highlight) {
    const target = list.querySelector('[data-message-id="' + CSS.escape(state.highlight) + '"]');
    if (target) {
      target.classList.add('highlight');
      target.scrollIntoView({ block: 'center' });
      state.highlight = null;
    }
  }
}

function renderHeader(c) {
  $('t-status').textContent = c.status;
  $('t-agent').textContent = c.agent_name ? 'with ' + c.agent_name : '';
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
    attempt(refreshWaitingCount);
    if (!$('view-live').hidden) attempt(loadLive);
    if (open) attempt(refreshTranscript);
  } else if (frame.type === 'message' || frame.type === 'csat') {
    // Even when a refresh is in flight: it may be reading this turn without its prediction.
    if (open && frame.type === 'message') {
      state.refetchFrom = state.refetchFrom === null ? frame.seq : Math.min(state.refetchFrom, frame.seq);
    }
    if (open) attempt(refreshTranscript);
  } else if (frame.type === 'activity' && !$('view-live').hidden) {
    clearTimeout(liveTimer);
    liveTimer = setTimeout(() => attempt(loadLive), 300);
  }
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
  wire();
  await loadIntents();
  socket.connect();
  route();
  refreshListSoon(LIST_POLL_MS);
}

start().catch((error) => {
  if (!(error instanceof ApiError && error.status === 401)) notice(error.message || String(error));
});
