/*
 * One transcript message as the console shows it: for a customer turn the prediction, its
 * alternatives, the label with its history and the relabel controls; for a bot turn the
 * action, sources and the customer's rating.
 *
 * `labelling` gives what the relabel controls need: choices() (intents and proposals),
 * outOfScope (the out-of-scope label) and onProposed() (called after a new intent is proposed).
 */
import { api, el, number, when } from './api.js';

export function renderTurn(m, labelling) {
  const item = el('li', { class: 'turn ' + m.role, 'data-seq': m.seq, 'data-message-id': m.id });
  const who = m.role === 'user' ? 'Customer' : m.role === 'bot' ? 'Bot' : (m.agent_name || 'Agent');
  const meta = el('div', { class: 'meta' });
  meta.append(el('span', { class: 'who' }, who), el('span', null, '#' + m.seq), el('span', null, when(m.created_at)));
  item.append(meta, el('div', { class: 'text' }, m.text));
  if (m.role === 'user') decorateCustomerTurn(item, m, labelling);
  if (m.role === 'bot') decorateBotTurn(item, m);
  return item;
}

// The live desk's compact form: a chat bubble; Enter or a click shows the model's view of it.
export function renderBubble(m, onSelect) {
  const item = el('li', { class: 'bubble ' + m.role, 'data-seq': m.seq, 'data-message-id': m.id, tabindex: '0' });
  const who = m.role === 'user' ? 'Customer' : m.role === 'bot' ? 'Bot' : (m.agent_name || 'Agent');
  const meta = el('div', { class: 'meta' });
  meta.append(el('span', { class: 'who' }, who), el('time', { datetime: m.created_at }, clock(m.created_at)));
  if (m.role === 'user' && m.prediction) {
    const p = m.prediction;
    const tag = p.out_of_scope ? 'out of scope' : p.intent + ' ' + number(p.confidence);
    meta.appendChild(el('span', { class: 'tag' + (p.out_of_scope || p.confidence < 0.5 ? ' unsure' : '') }, tag));
  }
  if (m.role === 'user' && m.prediction && m.prediction.shadow) {
    meta.appendChild(el('span', { class: 'tag shadow', title: 'The bot stayed silent: a person holds the chat' }, 'shadow'));
  }
  if (m.role === 'user' && m.label) meta.appendChild(el('span', { class: 'tag labelled' }, 'label ' + m.label.intent));
  item.append(meta, el('div', { class: 'text' }, m.text));
  // A business action's step: the slots the bot has collected so far (personal ones redacted).
  if (m.role === 'bot' && m.form) item.appendChild(el('div', { class: 'detail form' }, formSummary(m.form)));
  item.addEventListener('click', onSelect);
  item.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); onSelect(); }
  });
  return item;
}

function clock(iso) {
  // The server's times are UTC; one read back from SQLite comes without its offset.
  const date = new Date(/(Z|[+-]\d\d:?\d\d)$/.test(String(iso)) ? iso : iso + 'Z');
  return Number.isNaN(date.getTime()) ? '' : date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function detail(cls, parts) {
  const line = el('div', { class: 'detail ' + cls });
  for (const part of parts) {
    line.appendChild(typeof part === 'string' ? document.createTextNode(part) : part);
  }
  return line;
}

function decorateCustomerTurn(item, m, labelling) {
  const p = m.prediction;
  if (p) {
    const parts = ['Predicted ', el('strong', { class: 'predicted-intent' }, p.intent),
      ' ' + number(p.confidence) + ' · margin ' + number(p.margin)];
    if (p.out_of_scope) parts.push(' · out of scope');
    if (p.shadow) parts.push(el('span', { class: 'shadow' }, ' · shadow: the bot stayed silent'));
    item.appendChild(detail('prediction', parts));
    const alternatives = (p.top_k || []).slice(1).map((a) => a.intent + ' ' + number(a.confidence));
    if (alternatives.length) item.appendChild(detail('alternatives', ['Alternatives: ' + alternatives.join(', ')]));
  } else {
    item.appendChild(detail('prediction', ['No prediction (a suggestion button was clicked).']));
  }
  item.appendChild(renderLabel(m));
  item.appendChild(renderRelabel(item, m, labelling));
}

function renderLabel(m) {
  const box = el('div', { class: 'label-box' });
  const label = m.label;
  if (label) {
    const by = label.source === 'staff' ? label.created_by : 'customer clicked a suggestion';
    box.appendChild(detail('label-current ' + label.source, [
      'Label: ', el('strong', { class: 'label-intent' }, label.intent), ' (' + by + ', ' + when(label.created_at) + ')',
    ]));
  } else {
    box.appendChild(detail('label-current', ['No label yet.']));
  }
  if (m.labels && m.labels.length > 1) {
    const history = el('details', { class: 'label-history' });
    history.appendChild(el('summary', null, 'Label history (' + m.labels.length + ')'));
    const list = el('ol');
    for (const entry of m.labels) {
      const who = entry.source === 'staff' ? entry.created_by : 'suggestion click';
      list.appendChild(el('li', null, entry.intent + ' — ' + who + ', ' + when(entry.created_at)));
    }
    history.appendChild(list);
    box.appendChild(history);
  }
  return box;
}

// What "Confirm" confirms: the current label if there is one, else what the model said.
function confirmIntent(m, labelling) {
  if (m.label) return m.label.intent;
  if (!m.prediction) return null;
  return m.prediction.out_of_scope ? labelling.outOfScope : m.prediction.intent;
}

function renderRelabel(item, m, labelling) {
  const box = el('div', { class: 'relabel' });
  const error = el('span', { class: 'relabel-error', role: 'alert' });
  const save = (intent, propose) => relabel(item, m, intent, propose, error, labelling);
  const shown = confirmIntent(m, labelling);
  if (shown) {
    const confirm = el('button', { type: 'button', class: 'confirm' }, 'Confirm ' + shown);
    confirm.addEventListener('click', () => save(shown, false));
    box.appendChild(confirm);
  }
  const select = el('select', { class: 'intent-select', 'aria-label': 'Intent for message ' + m.seq });
  select.appendChild(el('option', { value: '' }, 'pick an intent…'));
  for (const name of labelling.choices()) select.appendChild(el('option', { value: name }, name));
  const set = el('button', { type: 'button', class: 'set-intent' }, 'Set');
  set.addEventListener('click', () => { if (select.value) save(select.value, false); });
  const outOfScope = el('button', { type: 'button', class: 'out-of-scope' }, 'Out of scope');
  outOfScope.addEventListener('click', () => save(labelling.outOfScope, false));
  const name = el('input', {
    class: 'propose-name', placeholder: 'new_intent_name', 'aria-label': 'New intent name', maxlength: 63,
  });
  const propose = el('button', { type: 'button', class: 'propose' }, 'Propose');
  propose.addEventListener('click', () => { if (name.value.trim()) save(name.value.trim(), true); });
  box.append(select, set, outOfScope, name, propose, error);
  return box;
}

async function relabel(item, m, intent, propose, error, labelling) {
  error.textContent = '';
  try {
    const result = await api('POST', '/api/messages/' + m.id + '/labels', { intent: intent, propose: propose });
    m.labels = result.labels;
    m.label = result.label;
    if (propose) await labelling.onProposed();
    item.replaceWith(renderTurn(m, labelling));
  } catch (e) {
    error.textContent = e.message;
  }
}

// A business action's form on a bot reply: the slots filled so far (personal values arrive
// redacted from the server), the question asked, and the backend call's outcome.
function formSummary(form) {
  const slots = Object.entries(form.slots || {}).map(([name, value]) => name + ' ' + value);
  let text = 'Action ' + form.action + ' · ' + form.step;
  if (slots.length) text += ' · filled: ' + slots.join(', ');
  if (form.asking) text += ' · asking for ' + form.asking;
  if (form.outcome) text += ' · ' + form.outcome + (form.latency_ms === undefined ? '' : ' in ' + form.latency_ms + ' ms');
  return text;
}

function decorateBotTurn(item, m) {
  const parts = ['Action: ' + (m.action || '–')];
  if (m.intent && m.intent.name) parts.push(' · intent ' + m.intent.name + ' ' + number(m.intent.confidence));
  item.appendChild(detail('action', parts));
  if (m.sources && m.sources.length) {
    item.appendChild(detail('sources', ['Sources: ' + m.sources.map((s) => s.title || s.id).join(', ')]));
  }
  if (m.suggestions && m.suggestions.length) {
    item.appendChild(detail('suggestions', ['Suggested: ' + m.suggestions.join(' | ')]));
  }
  if (m.form) item.appendChild(detail('form', [formSummary(m.form)]));
  const rating = m.rating === 'up' ? el('span', { class: 'rating-up' }, 'helpful')
    : m.rating === 'down' ? el('span', { class: 'rating-down' }, 'not helpful') : 'not rated';
  item.appendChild(detail('rating', ['Customer rating: ', rating]));
  if (m.reply_to_id) item.appendChild(renderCitationReview(m));
}

// The articles for the citation picker: asked for once per page load.
let articleList = null;
function articles() {
  if (!articleList) articleList = api('GET', '/api/content/articles').catch((e) => { articleList = null; throw e; });
  return articleList;
}

function citationState(citation) {
  if (!citation) return 'Citation not reviewed.';
  const verb = citation.verdict === 'confirmed' ? 'Confirmed ' : 'Corrected to ' + citation.article_id + ' ';
  return verb + 'by ' + (citation.created_by || '–') + ', ' + when(citation.created_at);
}

// Staff confirm the cited article or pick the right one: a question -> article pair that the
// next `bot retriever train` learns from.
function renderCitationReview(m) {
  const box = el('div', { class: 'citation-review' });
  const state = el('span', { class: 'citation-state' }, citationState(m.citation));
  const error = el('span', { class: 'relabel-error', role: 'alert' });
  const cited = m.sources && m.sources.length ? m.sources[0].id : '';
  const select = el('select', { class: 'citation-select', 'aria-label': 'Right article for reply ' + m.seq });
  select.appendChild(el('option', { value: '' }, 'Right article…'));
  const save = el('button', { type: 'button', class: 'citation-save' }, cited ? 'Confirm or correct' : 'Save');
  box.append(state, ' ', select, ' ', save, ' ', error);
  articles().then((list) => {
    const chosen = m.citation ? m.citation.article_id : cited;
    for (const article of list) {
      const option = el('option', { value: article.id }, article.title + ' (' + article.id + ')');
      if (article.id === chosen) option.selected = true;
      select.appendChild(option);
    }
  }).catch((e) => { error.textContent = e.message; });
  save.addEventListener('click', async () => {
    error.textContent = '';
    if (!select.value) { error.textContent = 'Pick the article that answers the customer.'; return; }
    try {
      m.citation = await api('POST', '/api/messages/' + m.id + '/citation', { article_id: select.value });
      state.textContent = citationState(m.citation);
    } catch (e) {
      error.textContent = e.message;
    }
  });
  return box;
}
