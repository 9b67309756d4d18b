/*
 * The Replies & articles tab: the bot's reply for each intent and the help-centre articles it
 * cites. Every staff role reads; operators edit. A saved change is served at once by this
 * server and by every other server process within seconds; each change is kept in the history
 * with who made it and when.
 *
 * All server text is shown through textContent or form values, never innerHTML.
 */
import { fillActionChoice, loadActions, openAction, wireActions } from './actions.js';
import { $, api, attempt, cell, el, when } from './api.js';

const view = { canEdit: false, articles: [], open: null };

// ------------------------------------------------------------ the lists --
export async function loadContent(canEdit) {
  view.canEdit = canEdit;
  const [responses, articles] = await Promise.all([
    api('GET', '/api/content/responses'),
    api('GET', '/api/content/articles'),
  ]);
  view.articles = articles;
  await loadActions(canEdit);
  fillResponses(responses.responses);
  fillMissing(responses.without_response);
  fillArticles(articles);
  $('new-response').hidden = !canEdit;
  $('new-article').hidden = !canEdit;
}

// `hash` is "response/<intent>" or "article/<id>" (the part after "content/").
export async function openContentItem(canEdit, hash) {
  await loadContent(canEdit);
  const [kind, key] = [hash.split('/')[0], hash.split('/').slice(1).join('/')];
  if (kind === 'response') await openResponse(key);
  else if (kind === 'article') await openArticle(key);
  else if (kind === 'action') {
    showEditor('action');
    view.open = { kind: 'action', key: key };
    await openAction(key, showHistory);
  }
}

function edited(item) { return 'v' + item.version + ' · ' + item.updated_by + ', ' + when(item.updated_at); }

function fillResponses(responses) {
  const body = $('response-list').tBodies[0];
  body.replaceChildren();
  for (const response of responses) {
    const row = el('tr', { class: 'clickable', 'data-intent': response.intent });
    const flags = [];
    if (response.handoff) flags.push('hands over');
    if (!response.related_articles) flags.push('cites no article');
    if (response.articles.length) flags.push(response.articles.length + ' article(s)');
    if (response.action) flags.push('runs ' + response.action);
    row.append(
      cell(response.intent),
      cell(response.title),
      cell(response.replies[0], 'text preview'),
      cell(flags.join(', ')),
      cell(edited(response)),
    );
    row.addEventListener('click', () => { window.location.hash = 'content/response/' + response.intent; });
    body.appendChild(row);
  }
}

function fillMissing(intents) {
  const box = $('content-missing');
  box.replaceChildren();
  box.hidden = intents.length === 0;
  if (!intents.length) return;
  box.appendChild(el('span', null, 'No reply yet, so these intents answer with the fallback '
    + '(a help-centre article, or the offer of a person): '));
  for (const intent of intents) {
    const link = el('a', { href: '#content/response/' + intent, class: 'missing-intent', 'data-intent': intent },
      view.canEdit ? 'Write the reply for ' + intent : intent);
    box.append(link, ' ');
  }
}

function fillArticles(articles) {
  const body = $('article-list').tBodies[0];
  body.replaceChildren();
  for (const article of articles) {
    const row = el('tr', { class: 'clickable', 'data-article': article.id });
    row.append(cell(article.id), cell(article.title), cell(edited(article)));
    row.addEventListener('click', () => { window.location.hash = 'content/article/' + article.id; });
    body.appendChild(row);
  }
}

// ------------------------------------------------------------ the editors --
async function openResponse(intent) {
  let response = null;
  try {
    response = await api('GET', '/api/content/responses/' + encodeURIComponent(intent));
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  showEditor('response');
  const form = $('response-form');
  view.open = { kind: 'response', key: intent, version: response ? response.version : 0 };
  $('re-heading').textContent = response ? 'Reply for ' + intent : 'New reply for ' + intent;
  form.elements.intent.value = intent;
  form.elements.intent.readOnly = true;
  form.elements.title.value = response ? response.title : titleFor(intent);
  form.elements.handoff.checked = response ? response.handoff : false;
  form.elements.related_articles.checked = response ? response.related_articles : true;
  fillReplyBoxes(response ? response.replies : ['']);
  fillArticleChoices(response ? response.articles : []);
  fillActionChoice($('re-action'), response ? response.action : null);
  $('re-delete').hidden = !view.canEdit || !response;
  $('re-status').textContent = response ? 'Version ' + response.version + ', ' + edited(response) : 'Not saved yet.';
  setEditable(form);
  await showHistory('response', intent);
}

function newResponse() {
  const intent = window.prompt('Intent name (a-z, 0-9 and _):');
  if (intent) window.location.hash = 'content/response/' + intent.trim();
}

function titleFor(intent) {
  const words = intent.replace(/_/g, ' ');
  return (words.charAt(0).toUpperCase() + words.slice(1)).slice(0, 30);
}

function fillReplyBoxes(replies) {
  const list = $('re-replies');
  list.replaceChildren();
  for (const reply of replies) addReplyBox(reply);
}

function addReplyBox(text) {
  const list = $('re-replies');
  const item = el('li', { class: 'reply-box' });
  const box = el('textarea', { rows: 3, class: 'reply-text', 'aria-label': 'Reply', maxlength: 2000 });
  box.value = text;
  const remove = el('button', { type: 'button', class: 'remove-reply' }, 'Remove');
  remove.hidden = !view.canEdit;
  remove.addEventListener('click', () => { if (list.children.length > 1) item.remove(); });
  item.append(box, remove);
  list.appendChild(item);
  if (!view.canEdit) box.readOnly = true;
}

function fillArticleChoices(chosen) {
  const select = $('re-articles');
  select.replaceChildren();
  for (const article of view.articles) {
    const option = el('option', { value: article.id }, article.title + ' (' + article.id + ')');
    option.selected = chosen.includes(article.id);
    select.appendChild(option);
  }
}

async function saveResponse() {
  const form = $('response-form');
  const intent = view.open.key;
  const body = {
    title: form.elements.title.value.trim(),
    replies: Array.from(document.querySelectorAll('#re-replies .reply-text'))
      .map((box) => box.value.trim()).filter((text) => text),
    handoff: form.elements.handoff.checked,
    related_articles: form.elements.related_articles.checked,
    articles: Array.from($('re-articles').selectedOptions).map((option) => option.value),
    action: $('re-action').value || null,
    version: view.open.version,
  };
  const saved = await api('PUT', '/api/content/responses/' + encodeURIComponent(intent), body);
  await loadContent(view.canEdit);
  await openResponse(saved.intent);
  $('re-status').textContent = 'Saved as version ' + saved.version + ': customers get it from now on.';
}

async function openArticle(articleId) {
  let article = null;
  try {
    article = await api('GET', '/api/content/articles/' + encodeURIComponent(articleId));
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  showEditor('article');
  const form = $('article-form');
  view.open = { kind: 'article', key: articleId, version: article ? article.version : 0 };
  $('ae-heading').textContent = article ? 'Article ' + articleId : 'New article ' + articleId;
  form.elements.id.value = articleId;
  form.elements.title.value = article ? article.title : '';
  form.elements.body.value = article ? article.body : '';
  $('ae-delete').hidden = !view.canEdit || !article;
  $('ae-status').textContent = article ? 'Version ' + article.version + ', ' + edited(article) : 'Not saved yet.';
  setEditable(form);
  await showHistory('article', articleId);
}

function newArticle() {
  const id = window.prompt('Article id (words of a-z and 0-9 joined by -):');
  if (id) window.location.hash = 'content/article/' + id.trim();
}

async function saveArticle() {
  const form = $('article-form');
  const body = { title: form.elements.title.value, body: form.elements.body.value, version: view.open.version };
  const saved = await api('PUT', '/api/content/articles/' + encodeURIComponent(view.open.key), body);
  await loadContent(view.canEdit);
  await openArticle(saved.id);
  $('ae-status').textContent = 'Saved as version ' + saved.version + ': searched from now on.';
}

async function deleteOpen() {
  const { kind, key, version } = view.open;
  if (!window.confirm('Delete the ' + kind + ' ' + key + '? The history keeps it.')) return;
  await api('DELETE', contentPath(kind) + encodeURIComponent(key) + '?version=' + version);
  window.location.hash = 'content';
}

function showEditor(kind) {
  $('content-editor').hidden = false;
  $('response-form').hidden = kind !== 'response';
  $('article-form').hidden = kind !== 'article';
  $('action-form').hidden = kind !== 'action';
}

function setEditable(form) {
  for (const field of form.querySelectorAll('input, textarea, select')) {
    if (field.name === 'intent' || field.name === 'id') continue;
    field.disabled = !view.canEdit;
  }
  for (const button of form.querySelectorAll('.edit-only')) button.hidden = !view.canEdit;
}

function contentPath(kind) {
  if (kind === 'action') return '/api/content/actions/';
  return kind === 'response' ? '/api/content/responses/' : '/api/content/articles/';
}

// ------------------------------------------------------------ history --
async function showHistory(kind, key) {
  const list = $('content-history');
  list.replaceChildren();
  const data = await api('GET', contentPath(kind) + encodeURIComponent(key) + '/history');
  for (const change of data.changes) {
    const item = el('li', { class: 'history-item', 'data-version': change.version });
    item.appendChild(el('div', { class: 'meta' },
      'v' + change.version + ' · ' + change.action + ' by ' + change.actor + ' · ' + when(change.created_at)));
    if (change.data) {
      const details = el('details');
      details.appendChild(el('summary', null, 'What it said'));
      let text = change.data.title + '\n\n' + (change.data.body || '');
      if (kind === 'response') text = change.data.title + '\n\n' + change.data.replies.join('\n\n');
      if (kind === 'action') text = JSON.stringify(change.data.definition, null, 2);
      details.appendChild(el('pre', { class: 'text' }, text));
      item.appendChild(details);
    }
    list.appendChild(item);
  }
  if (!data.changes.length) list.appendChild(el('li', { class: 'empty' }, 'No changes yet.'));
}

// ------------------------------------------------------------ wiring --
export function wireContent() {
  $('new-response').addEventListener('click', newResponse);
  $('new-article').addEventListener('click', newArticle);
  $('re-add-reply').addEventListener('click', () => addReplyBox(''));
  $('response-form').addEventListener('submit', (event) => {
    event.preventDefault();
    attempt(saveResponse);
  });
  $('article-form').addEventListener('submit', (event) => {
    event.preventDefault();
    attempt(saveArticle);
  });
  $('re-delete').addEventListener('click', () => attempt(deleteOpen));
  $('ae-delete').addEventListener('click', () => attempt(deleteOpen));
  wireActions(async (name) => {
    await loadContent(view.canEdit);
    showEditor('action');
    await openAction(name, showHistory);
  });
  for (const id of ['re-close', 'ae-close']) {
    $(id).addEventListener('click', () => { window.location.hash = 'content'; });
  }
}

export function closeContentEditor() {
  $('content-editor').hidden = true;
  view.open = null;
}
