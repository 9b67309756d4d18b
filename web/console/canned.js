/*
 * Canned replies: typing "/" in the agent's composer lists them, filtered by what follows the
 * slash; arrow keys move, Enter or Tab inserts, Escape closes. Operators manage them in their
 * own tab (shortcut + text).
 */
import { $, api, attempt, cell, el, when } from './api.js';

const canned = { replies: [], loaded: false, loading: null, matches: [], active: 0 };

// One request however many keys are typed before it answers.
async function ensureLoaded() {
  if (canned.loaded) return;
  if (!canned.loading) {
    canned.loading = api('GET', '/api/canned-replies').then((data) => {
      canned.replies = data.replies;
      canned.loaded = true;
    }).finally(() => { canned.loading = null; });
  }
  await canned.loading;
}

// The "/query" the caret is in, if any: from a slash at the start or after a space.
function slashQuery(box) {
  const before = box.value.slice(0, box.selectionStart);
  const found = /(^|\s)\/([\w-]*)$/.exec(before);
  return found ? { start: before.length - found[2].length - 1, query: found[2].toLowerCase() } : null;
}

export function wireCannedReplies(box) {
  const list = $('canned-list');
  const close = () => {
    list.hidden = true;
    box.removeAttribute('aria-activedescendant');
  };
  const render = () => {
    list.replaceChildren();
    canned.matches.forEach((reply, i) => {
      const option = el('li', { id: 'canned-option-' + i, role: 'option', 'aria-selected': String(i === canned.active), 'data-shortcut': reply.shortcut });
      option.append(el('strong', null, '/' + reply.shortcut), el('span', null, ' ' + reply.text));
      option.addEventListener('mousedown', (event) => { event.preventDefault(); insert(box, reply); close(); });
      list.appendChild(option);
    });
    list.hidden = canned.matches.length === 0;
    if (!list.hidden) box.setAttribute('aria-activedescendant', 'canned-option-' + canned.active);
  };
  const update = async () => {
    if (!slashQuery(box)) { close(); return; }
    await ensureLoaded();
    // The box may have changed while the replies loaded (a reply inserted, the text sent).
    const found = slashQuery(box);
    if (!found || document.activeElement !== box) { close(); return; }
    canned.matches = canned.replies.filter((r) => r.shortcut.includes(found.query) || r.text.toLowerCase().includes(found.query)).slice(0, 8);
    canned.active = 0;
    render();
  };
  box.addEventListener('input', () => attempt(update));
  box.addEventListener('blur', close);
  // Capture phase: ahead of the composer's own Enter-to-send.
  box.addEventListener('keydown', (event) => {
    if (list.hidden) return;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const step = event.key === 'ArrowDown' ? 1 : -1;
      canned.active = (canned.active + step + canned.matches.length) % canned.matches.length;
      render();
    } else if (event.key === 'Enter' || event.key === 'Tab') {
      event.preventDefault();
      event.stopImmediatePropagation();
      insert(box, canned.matches[canned.active]);
      close();
    } else if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      close();
    }
  }, true);
}

function insert(box, reply) {
  const found = slashQuery(box);
  if (!found || !reply) return;
  const after = box.value.slice(box.selectionStart);
  box.value = box.value.slice(0, found.start) + reply.text + after;
  const caret = found.start + reply.text.length;
  box.setSelectionRange(caret, caret);
  box.dispatchEvent(new Event('input'));
}

// ------------------------------------------------------ operators' tab --
export async function loadCannedReplies(canEdit) {
  const data = await api('GET', '/api/canned-replies');
  canned.replies = data.replies;
  canned.loaded = true;
  $('canned-form').hidden = !canEdit;
  const body = $('canned-table').tBodies[0];
  body.replaceChildren();
  for (const reply of data.replies) {
    const row = el('tr', { 'data-id': reply.id });
    row.append(cell('/' + reply.shortcut), cell(reply.text, 'text'), cell(reply.updated_by + ', ' + when(reply.updated_at)));
    const actions = el('td');
    if (canEdit) {
      const edit = el('button', { type: 'button', 'aria-label': 'Edit /' + reply.shortcut }, 'Edit');
      edit.addEventListener('click', () => fillForm(reply));
      const remove = el('button', { type: 'button', class: 'danger', 'aria-label': 'Delete /' + reply.shortcut }, 'Delete');
      remove.addEventListener('click', () => attempt(async () => {
        await api('DELETE', '/api/canned-replies/' + reply.id);
        await loadCannedReplies(canEdit);
      }));
      actions.append(edit, remove);
    }
    row.appendChild(actions);
    body.appendChild(row);
  }
  if (!data.replies.length) {
    const row = el('tr');
    row.appendChild(el('td', { colspan: 4, class: 'empty' }, 'No canned replies yet.'));
    body.appendChild(row);
  }
}

function fillForm(reply) {
  const form = $('canned-form');
  form.elements.id.value = reply ? String(reply.id) : '';
  form.elements.shortcut.value = reply ? reply.shortcut : '';
  form.elements.text.value = reply ? reply.text : '';
  form.elements.shortcut.focus();
}

export function wireCannedTab(canEdit) {
  $('canned-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.target;
    const body = { shortcut: form.elements.shortcut.value, text: form.elements.text.value };
    const id = form.elements.id.value;
    attempt(async () => {
      await api(id ? 'PUT' : 'POST', '/api/canned-replies' + (id ? '/' + id : ''), body);
      fillForm(null);
      await loadCannedReplies(canEdit());
    });
  });
  $('canned-form').addEventListener('reset', () => { setTimeout(() => fillForm(null), 0); });
}
