/*
 * The console's plumbing: building elements (text always through textContent), calling the
 * JSON API with the session's CSRF token, and showing errors.
 */

const csrf = { token: null };

export function setCsrfToken(token) { csrf.token = token; }

export function $(id) { return document.getElementById(id); }

// Create an element; `text` always goes through textContent, never innerHTML.
export function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function cell(text, cls) { return el('td', cls ? { class: cls } : null, text); }

export function number(x, digits) {
  return typeof x === 'number' ? x.toFixed(digits === undefined ? 2 : digits) : '–';
}

export function when(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}

export class ApiError extends Error {
  constructor(status, code, detail) { super(detail); this.status = status; this.code = code; }
}

export async function api(method, path, body) {
  const headers = {};
  const init = { method: method, headers: headers, credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf.token || '';
  const response = await fetch(path, init);
  if (response.status === 401) {
    toLogin();
    throw new ApiError(401, 'unauthorized', 'Your session has ended.');
  }
  if (response.status === 204) return null;
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (!response.ok) {
    const detail = data && typeof data.detail === 'string' ? data.detail : 'Request failed (' + response.status + ')';
    throw new ApiError(response.status, data && data.code, detail);
  }
  return data;
}

export function toLogin() { window.location.assign('/console/login'); }

export function notice(text) {
  const box = $('notice');
  box.textContent = text || '';
  box.hidden = !text;
}

// Run an API job; show its error instead of throwing (a 401 has already gone to the login page).
export async function attempt(job) {
  try {
    notice('');
    return await job();
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) notice(error.message);
    return undefined;
  }
}

export function queryString(params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== '' && value !== null && value !== undefined) query.set(key, String(value));
  }
  return query.toString();
}
