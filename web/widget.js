/*
 * Support chat widget — embeddable, dependency-free (ES2020, no build step).
 *
 * Embed with:  <script src="https://HOST/widget.js" defer></script>
 * Optional attributes on that script tag:
 *   data-server="https://host:port"  server origin (default: origin of this script's src)
 *   data-title="..."                 header title (default "Support", or its translation)
 *   data-lang="de"                   the widget's own strings: "en" (default) or "de"; the
 *                                    bot's replies stay in the shop's content language
 *   data-bot-name="..."              the bot's name (default: the server's BOT_WIDGET_BOT_NAME)
 *   data-welcome="..."               the welcome message (default: BOT_WIDGET_WELCOME)
 *   data-avatar="/path.svg"          the bot's avatar, from the chat server's origin only
 *                                    (default: BOT_WIDGET_AVATAR)
 *
 * Security: every piece of text coming from the server or the user is rendered
 * with textContent / createTextNode only. innerHTML is never used.
 */
(function () {
  'use strict';

  if (typeof window === 'undefined' || typeof document === 'undefined') return;
  if (window.SupportChat && document.getElementById('support-chat-widget')) return; // loaded twice

  // ---------------------------------------------------------------- config --
  const SCRIPT = document.currentScript || findScriptTag();
  const MAX_LEN = 4000;              // server default limit (characters)
  const COUNTER_FROM = 3500;         // show the counter from this length on
  const TRANSCRIPT_CAP = 300;        // messages kept in localStorage
  const BACKOFF_BASE = 500;
  const BACKOFF_MAX = 15000;
  const BOT_TYPING_TIMEOUT = 30000;  // safety: hide "bot typing" if no reply
  const REMOTE_TYPING_MS = 3000;     // {"type":"typing"} shows the indicator this long
  const TYPING_EVERY_MS = 2500;      // our own typing frames: the server takes one per 2 s
  const REPLAY_QUIET_MS = 150;       // after welcome, wait for replay frames to settle
  const REPLAY_MAX_MS = 1000;

  const KEY = {
    token: 'supportChat.token',
    conv: 'supportChat.conversationId',
    transcript: 'supportChat.transcript',
    outbox: 'supportChat.outbox',
    open: 'supportChat.open',
    customer: 'supportChat.customerId',
    system: 'supportChat.systemLines',
  };

  // The widget's own strings; {name} is filled in. A missing key falls back to English.
  const STRINGS = {
    en: {
      title: 'Support', openChat: 'Open chat', closeChat: 'Close chat', close: 'Close', endChat: 'End chat',
      retry: 'Retry now', messagesLabel: 'Messages', welcome: 'Hi! Ask us anything \u2014 we usually reply right away.',
      typing: 'Typing\u2026', agentTyping: '{name} is typing\u2026', someoneTyping: 'Agent is typing\u2026',
      rateChat: 'Rate this chat', howWasChat: 'How was your chat?', star: '{n} star', stars: '{n} stars',
      commentPlaceholder: 'Anything we could do better? (optional)', commentLabel: 'Comment (optional)',
      skip: 'Skip', sendRating: 'Send rating', thanks: 'Thanks for your feedback', newChat: 'Start a new chat',
      sendMessage: 'Send a message', typeMessage: 'Type your message\u2026', message: 'Message', send: 'Send',
      suggested: 'Suggested replies', helpful: 'Helpful', notHelpful: 'Not helpful',
      sending: 'Sending\u2026', notDelivered: 'Not delivered', connecting: 'Connecting\u2026',
      offline: 'You are offline. Waiting for the network\u2026', unreachable: 'Can\u2019t reach the chat server. Retrying\u2026',
      reconnecting: 'Connection lost. Reconnecting\u2026', tooLong: 'Message is too long ({n} / {max} characters). Please shorten it.',
      tooLarge: 'That message was too large for the server and was not delivered.', wentWrong: 'Something went wrong.',
      waiting: 'Waiting for a person\u2026', withAgent: 'You\u2019re chatting with {name}', anAgent: 'a support agent',
      withBot: 'You\u2019re chatting with the assistant', closed: 'This chat was closed',
      joined: '{name} joined the chat', left: '{name} left the chat', youEnded: 'You ended the chat',
      agentEnded: 'The chat was closed', supportAgent: 'Support agent', unreadOne: '1 unread message', unreadMany: '{n} unread messages',
    },
    de: {
      title: 'Kundenservice', openChat: 'Chat \u00f6ffnen', closeChat: 'Chat schlie\u00dfen', close: 'Schlie\u00dfen', endChat: 'Chat beenden',
      retry: 'Erneut versuchen', messagesLabel: 'Nachrichten', welcome: 'Hallo! Fragen Sie uns einfach \u2014 wir antworten meist sofort.',
      typing: 'Schreibt\u2026', agentTyping: '{name} schreibt\u2026', someoneTyping: 'Ein Mitarbeiter schreibt\u2026',
      rateChat: 'Chat bewerten', howWasChat: 'Wie war Ihr Chat?', star: '{n} Stern', stars: '{n} Sterne',
      commentPlaceholder: 'Was k\u00f6nnen wir besser machen? (optional)', commentLabel: 'Kommentar (optional)',
      skip: '\u00dcberspringen', sendRating: 'Bewertung senden', thanks: 'Danke f\u00fcr Ihr Feedback', newChat: 'Neuen Chat starten',
      sendMessage: 'Nachricht senden', typeMessage: 'Ihre Nachricht\u2026', message: 'Nachricht', send: 'Senden',
      suggested: 'Antwortvorschl\u00e4ge', helpful: 'Hilfreich', notHelpful: 'Nicht hilfreich',
      sending: 'Wird gesendet\u2026', notDelivered: 'Nicht zugestellt', connecting: 'Verbinde\u2026',
      offline: 'Sie sind offline. Warte auf das Netzwerk\u2026', unreachable: 'Der Chat-Server ist nicht erreichbar. Neuer Versuch\u2026',
      reconnecting: 'Verbindung verloren. Verbinde neu\u2026', tooLong: 'Die Nachricht ist zu lang ({n} / {max} Zeichen). Bitte k\u00fcrzen Sie sie.',
      tooLarge: 'Diese Nachricht war zu gro\u00df f\u00fcr den Server und wurde nicht zugestellt.', wentWrong: 'Etwas ist schiefgelaufen.',
      waiting: 'Warten auf einen Mitarbeiter\u2026', withAgent: 'Sie chatten mit {name}', anAgent: 'einem Mitarbeiter',
      withBot: 'Sie chatten mit dem Assistenten', closed: 'Dieser Chat wurde beendet',
      joined: '{name} ist dem Chat beigetreten', left: '{name} hat den Chat verlassen', youEnded: 'Sie haben den Chat beendet',
      agentEnded: 'Der Chat wurde beendet', supportAgent: 'Mitarbeiter', unreadOne: '1 ungelesene Nachricht', unreadMany: '{n} ungelesene Nachrichten',
    },
  };
  const LANG = (() => {
    const asked = ((SCRIPT && SCRIPT.getAttribute('data-lang')) || 'en').toLowerCase().split('-')[0];
    return Object.prototype.hasOwnProperty.call(STRINGS, asked) ? asked : 'en';
  })();
  function t(key, vars) {
    let text = STRINGS[LANG][key] || STRINGS.en[key] || key;
    if (vars) for (const name of Object.keys(vars)) text = text.split('{' + name + '}').join(String(vars[name]));
    return text;
  }

  const TITLE = (SCRIPT && SCRIPT.getAttribute('data-title')) || t('title');
  const SERVER_BASE = resolveServer();
  const WS_URL = wsUrlFor(SERVER_BASE);
  // The look: data- attributes first, then the server's settings (/widget-config.json).
  const look = {
    botName: attr('data-bot-name'),
    welcome: attr('data-welcome'),
    avatar: attr('data-avatar'),
  };

  function attr(name) {
    const value = SCRIPT && SCRIPT.getAttribute(name);
    return value && value.trim() ? value.trim() : null;
  }

  // Only an image on the chat server's own origin: the page's CSP (img-src 'self') and the
  // visitor's privacy (no third-party request) both stay as they are.
  function sameOriginImage(path) {
    if (!path) return null;
    try {
      const url = new URL(path, SERVER_BASE + '/');
      return url.origin === new URL(SERVER_BASE).origin && /^https?:$/.test(url.protocol) ? url.href : null;
    } catch (e) { return null; }
  }

  function findScriptTag() {
    const tags = document.querySelectorAll('script[src]');
    for (let i = tags.length - 1; i >= 0; i--) {
      if (/(^|\/)widget\.js([?#]|$)/.test(tags[i].getAttribute('src') || '')) return tags[i];
    }
    return null;
  }

  function resolveServer() {
    const attr = SCRIPT && SCRIPT.getAttribute('data-server');
    try {
      if (attr) {
        const u = new URL(attr, location.href);
        return u.origin + u.pathname.replace(/\/+$/, '');
      }
      if (SCRIPT && SCRIPT.src) return new URL(SCRIPT.src, location.href).origin;
    } catch (e) { /* fall through */ }
    return location.origin;
  }

  function wsUrlFor(base) {
    let u;
    try { u = new URL(base); } catch (e) { u = new URL(location.href); }
    const secure = u.protocol === 'https:' || u.protocol === 'wss:' || location.protocol === 'https:';
    const path = (u.pathname || '').replace(/\/+$/, '');
    return (secure ? 'wss:' : 'ws:') + '//' + u.host + path + '/ws/chat';
  }

  // --------------------------------------------------------------- storage --
  // localStorage may be unavailable (privacy modes, sandboxed iframes): fall
  // back to memory so the widget still works for the lifetime of the page.
  const memStore = Object.create(null);
  function rawGet(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return key in memStore ? memStore[key] : null; }
  }
  function rawSet(key, value) {
    try {
      if (value === null || value === undefined) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, value);
    } catch (e) {
      if (value === null || value === undefined) delete memStore[key]; else memStore[key] = value;
    }
  }
  function jsonGet(key, fallback) {
    const v = rawGet(key);
    if (v === null) return fallback;
    try { const parsed = JSON.parse(v); return parsed === null ? fallback : parsed; } catch (e) { return fallback; }
  }
  function jsonSet(key, value) {
    let s;
    try { s = JSON.stringify(value); } catch (e) { return; }
    rawSet(key, s);
  }

  // --------------------------------------------------------------- helpers --
  function uuid() {
    try { if (window.crypto && typeof crypto.randomUUID === 'function') return crypto.randomUUID(); } catch (e) { /* insecure context */ }
    const b = new Uint8Array(16);
    if (window.crypto && crypto.getRandomValues) crypto.getRandomValues(b);
    else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return hex.slice(0, 8) + '-' + hex.slice(8, 12) + '-' + hex.slice(12, 16) + '-' + hex.slice(16, 20) + '-' + hex.slice(20);
  }

  function str(v) { return typeof v === 'string' ? v : (v === null || v === undefined ? '' : String(v)); }
  function toSeq(v) {
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    return typeof n === 'number' && Number.isFinite(n) && Math.floor(n) === n ? n : null;
  }
  // Length in Unicode code points (matches Python's len(str) on the server).
  function charLen(s) { let n = 0; for (const _ of s) n++; return n; } // eslint-disable-line no-unused-vars

  // Create an element; `text` is always set through textContent.
  function h(tag, attrs, text) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const k of Object.keys(attrs)) {
        const v = attrs[k];
        if (v === null || v === undefined || v === false) continue;
        if (k === 'class') el.className = v;
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    if (text !== undefined && text !== null) el.textContent = String(text);
    return el;
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';
  function icon(paths, opts) {
    const o = opts || {};
    const svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', o.size || 20);
    svg.setAttribute('height', o.size || 20);
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    svg.setAttribute('fill', o.fill ? 'currentColor' : 'none');
    if (!o.fill) {
      svg.setAttribute('stroke', 'currentColor');
      svg.setAttribute('stroke-width', o.stroke || 2);
      svg.setAttribute('stroke-linecap', 'round');
      svg.setAttribute('stroke-linejoin', 'round');
    }
    for (const d of paths) {
      const p = document.createElementNS(SVG_NS, 'path');
      p.setAttribute('d', d);
      svg.appendChild(p);
    }
    return svg;
  }
  const ICON = {
    chat: ['M21 11.5a8.4 8.4 0 0 1-9 8.4 9.4 9.4 0 0 1-3.9-.8L3 21l1.9-4.9A8.1 8.1 0 0 1 3 11.5 8.5 8.5 0 0 1 12 3a8.4 8.4 0 0 1 9 8.5z'],
    close: ['M18 6 6 18', 'M6 6l12 12'],
    send: ['M22 2 11 13', 'M22 2l-7 20-4-9-9-4 20-7z'],
    up: ['M7 10v12', 'M15 5.9 14 10h5.8a2 2 0 0 1 2 2.3l-1.4 8A2 2 0 0 1 18.5 22H4a2 2 0 0 1-2-2v-8a2 2 0 0 1 2-2h2.8a2 2 0 0 0 1.8-1.1L12 2a3.1 3.1 0 0 1 3 3.9z'],
    down: ['M17 14V2', 'M9 18.1 10 14H4.2a2 2 0 0 1-2-2.3l1.4-8A2 2 0 0 1 5.5 2H20a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2h-2.8a2 2 0 0 0-1.8 1.1L12 22a3.1 3.1 0 0 1-3-3.9z'],
    star: ['M12 2.5l2.9 6 6.6.9-4.8 4.6 1.2 6.5L12 17.4l-5.9 3.1 1.2-6.5L2.5 9.4l6.6-.9z'],
  };

  // ------------------------------------------------------------------- CSS --
  const CSS = `
:host { all: initial; }
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
.root {
  --accent: #4f46e5;
  --accent-dark: #4338ca;
  --accent-soft: rgba(79, 70, 229, .12);
  --fg: #1f2328; --muted: #5b6470; --line: #e4e7eb; --bg: #ffffff; --bg-soft: #f6f7f9;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif;
  font-size: 14px; line-height: 1.45; color: var(--fg); font-weight: 400; letter-spacing: normal;
  text-align: left; direction: ltr; -webkit-font-smoothing: antialiased;
}
button { font: inherit; color: inherit; cursor: pointer; margin: 0; }
button:focus-visible, textarea:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
.sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }

.launcher {
  position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;
  width: 56px; height: 56px; border-radius: 50%; border: 0; padding: 0;
  display: grid; place-items: center; background: var(--accent); color: #fff;
  box-shadow: 0 6px 18px rgba(15, 23, 42, .25), 0 2px 4px rgba(15, 23, 42, .12);
  transition: transform .15s ease, background .15s ease;
}
.launcher:hover { transform: translateY(-1px) scale(1.04); background: var(--accent-dark); }
.launcher:focus-visible { outline: 3px solid var(--accent); outline-offset: 3px; }
.badge {
  position: absolute; top: -2px; right: -2px; min-width: 20px; height: 20px; padding: 0 6px;
  border-radius: 10px; background: #e5484d; color: #fff; font-size: 11px; font-weight: 700;
  line-height: 20px; text-align: center; box-shadow: 0 0 0 2px #fff;
}

.panel {
  position: fixed; right: 20px; bottom: 20px; z-index: 2147483001;
  width: 380px; height: min(620px, calc(100vh - 40px)); max-height: calc(100vh - 40px);
  display: flex; flex-direction: column; overflow: hidden;
  background: var(--bg); border-radius: 16px; border: 1px solid rgba(15, 23, 42, .06);
  box-shadow: 0 16px 48px rgba(15, 23, 42, .22), 0 2px 8px rgba(15, 23, 42, .08);
  animation: pop .16s ease-out;
}
@keyframes pop { from { opacity: 0; transform: translateY(8px) scale(.98); } to { opacity: 1; transform: none; } }

.header {
  display: flex; align-items: center; gap: 8px; padding: 12px 10px 12px 16px;
  background: var(--accent); color: #fff; flex: none;
}
.title { flex: 1; min-width: 0; margin: 0; font-size: 15px; font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.end-chat {
  border: 0; background: rgba(255, 255, 255, .16); color: #fff; border-radius: 999px;
  padding: 4px 10px; font-size: 12px; font-weight: 500;
}
.end-chat:hover { background: rgba(255, 255, 255, .28); }
.close { border: 0; background: transparent; color: #fff; width: 32px; height: 32px; border-radius: 8px; display: grid; place-items: center; padding: 0; }
.close:hover { background: rgba(255, 255, 255, .18); }
.header button:focus-visible { outline-color: #fff; }

.status, .conv-status { flex: none; font-size: 12px; padding: 6px 16px; display: flex; align-items: center; gap: 8px; }
.status { background: #fff8e6; color: #7a4b00; border-bottom: 1px solid #f3e3bd; }
.status .retry { margin-left: auto; border: 0; background: transparent; color: inherit; text-decoration: underline; font-size: 12px; padding: 0; }
.conv-status { justify-content: center; background: var(--bg-soft); color: var(--muted); border-bottom: 1px solid var(--line); }

.messages {
  flex: 1 1 auto; min-height: 0; overflow-y: auto; overscroll-behavior: contain;
  padding: 16px 12px 8px; display: flex; flex-direction: column; gap: 10px; background: var(--bg-soft);
}
.empty { margin: auto; color: var(--muted); font-size: 13px; text-align: center; padding: 0 24px; }
.msg, .welcome { display: flex; flex-direction: column; max-width: 85%; align-self: flex-start; }
.msg .text, .welcome .text {
  white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-word;
  padding: 8px 12px; border-radius: 16px; background: var(--bg); border: 1px solid var(--line);
  border-bottom-left-radius: 4px;
}
.msg.user { align-self: flex-end; align-items: flex-end; }
.msg.user .text { background: var(--accent); color: #fff; border-color: var(--accent); border-radius: 16px; border-bottom-right-radius: 4px; }
.msg.agent .text { background: #eef6ff; border-color: #d3e5fb; }
.msg .author, .welcome .author { font-size: 12px; font-weight: 600; color: var(--muted); margin: 0 0 3px 4px; }
.msg.pending .text { opacity: .7; }
.msg.pending::after, .msg.failed::after { font-size: 11px; margin-top: 3px; color: var(--muted); }
.msg.pending::after, .msg.failed::after { content: attr(data-note); }
.msg.failed::after { color: #c4232b; }
.msg.failed .text { opacity: .6; }
.msg.error {
  align-self: center; max-width: 92%; white-space: pre-wrap; overflow-wrap: anywhere;
  background: #fff1f1; color: #a1161f; border: 1px solid #f5c6ca; border-radius: 10px;
  padding: 6px 10px; font-size: 13px; display: block;
}
.sources { font-size: 12px; color: var(--muted); margin: 4px 4px 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.suggestions { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 8px; }
.suggestion {
  border: 1px solid var(--accent); background: var(--bg); color: var(--accent);
  border-radius: 999px; padding: 5px 12px; font-size: 13px; line-height: 1.3; text-align: left;
  white-space: pre-wrap; overflow-wrap: anywhere; max-width: 100%;
}
.suggestion:hover:not(:disabled) { background: var(--accent-soft); }
.suggestion:disabled { opacity: .45; cursor: default; }
.suggestion.chosen { background: var(--accent); color: #fff; opacity: 1; }
.feedback { display: flex; gap: 2px; margin: 4px 0 0 2px; }
.rate-up, .rate-down {
  border: 0; background: transparent; color: #8b939e; border-radius: 6px;
  width: 28px; height: 24px; padding: 0; display: grid; place-items: center;
}
.rate-up:hover, .rate-down:hover { background: #eceef1; color: var(--fg); }
.rate-up.chosen { color: #1a7f37; background: #e3f4e8; }
.rate-down.chosen { color: #c4232b; background: #fdecec; }

.typing { flex: none; padding: 0 12px 8px; background: var(--bg-soft); }
.typing .bubble {
  display: inline-flex; align-items: center; gap: 4px; padding: 10px 12px;
  background: var(--bg); border: 1px solid var(--line); border-radius: 16px; border-bottom-left-radius: 4px;
}
.typing .dot { width: 6px; height: 6px; border-radius: 50%; background: #9aa2ad; animation: blink 1.2s infinite ease-in-out; }
.typing .dot:nth-child(2) { animation-delay: .15s; }
.typing .dot:nth-child(3) { animation-delay: .3s; }
.typing .who { font-size: 12px; color: var(--muted); margin-left: 6px; }
@keyframes blink { 0%, 80%, 100% { opacity: .3; transform: translateY(0); } 40% { opacity: 1; transform: translateY(-2px); } }

.csat-area { order: 1; flex: none; border-top: 1px solid var(--line); background: var(--bg); padding: 12px 16px; }
.csat { display: flex; flex-direction: column; gap: 8px; margin: 0; }
.csat-q { font-weight: 600; font-size: 14px; margin: 0; }
.stars { display: flex; gap: 4px; }
.star { border: 0; background: transparent; color: #c7ccd3; padding: 2px; border-radius: 6px; display: grid; place-items: center; }
.star.on { color: #f5a623; }
.star:hover { color: #f5b94a; }
.csat-comment, .composer textarea {
  font: inherit; color: var(--fg); background: var(--bg); resize: none; width: 100%;
  border: 1px solid #d0d6dd; border-radius: 12px; padding: 9px 12px; margin: 0; outline: none;
}
.csat-comment { min-height: 56px; }
.csat-comment:focus, .composer textarea:focus { border-color: var(--accent); box-shadow: 0 0 0 3px var(--accent-soft); }
.csat-actions { display: flex; gap: 8px; justify-content: flex-end; }
.csat-submit, .csat-cancel { border-radius: 8px; padding: 6px 14px; font-size: 13px; font-weight: 500; }
.csat-submit { border: 0; background: var(--accent); color: #fff; }
.csat-submit:disabled { opacity: .45; cursor: default; }
.csat-cancel { border: 1px solid #d0d6dd; background: var(--bg); }
.csat-thanks { text-align: center; color: var(--muted); font-size: 13px; }
.new-chat { display: block; width: 100%; margin-top: 8px; border: 0; border-radius: 8px; padding: 8px 14px; background: var(--accent); color: #fff; font-weight: 600; }
.new-chat:hover { background: var(--accent-dark); }
.avatar { flex: none; width: 32px; height: 32px; border-radius: 50%; background: rgba(255, 255, 255, .2); }
.names { flex: 1; min-width: 0; }
.names .title { flex: none; }
.bot-name { font-size: 12px; opacity: .9; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.msg .time { font-size: 11px; color: var(--muted); margin: 2px 6px 0; }
.system { align-self: center; max-width: 92%; font-size: 12px; color: var(--muted); text-align: center; padding: 2px 10px; border-radius: 999px; background: #eceef1; }

.composer { order: 2; flex: none; display: flex; flex-wrap: wrap; align-items: flex-end; gap: 8px; padding: 10px 12px 12px; border-top: 1px solid var(--line); background: var(--bg); margin: 0; }
.composer textarea { flex: 1 1 0; min-width: 0; min-height: 40px; max-height: 140px; line-height: 1.4; overflow-y: auto; }
.send {
  flex: none; width: 40px; height: 40px; border-radius: 50%; border: 0; padding: 0;
  display: grid; place-items: center; background: var(--accent); color: #fff; transition: background .15s ease, opacity .15s ease;
}
.send:hover { background: var(--accent-dark); }
.send.over { opacity: .4; cursor: not-allowed; }
.composer-meta { flex: 1 0 100%; display: flex; gap: 8px; font-size: 11px; color: var(--muted); min-height: 0; }
.limit-notice { color: #c4232b; }
.counter { margin-left: auto; }
.counter.over { color: #c4232b; font-weight: 600; }

@media (max-width: 480px) {
  .panel { inset: 0; right: 0; bottom: 0; width: 100%; height: 100%; max-height: none; border-radius: 0; border: 0; }
  .launcher { right: 16px; bottom: 16px; }
  .composer textarea { font-size: 16px; } /* avoid iOS zoom on focus */
}
@media (prefers-reduced-motion: reduce) {
  *, *::before, *::after { animation: none !important; transition: none !important; }
}
`;

  // ----------------------------------------------------------------- state --
  let token = rawGet(KEY.token) || null;
  let conversationId = rawGet(KEY.conv) || null;
  let transcript = sanitizeTranscript(jsonGet(KEY.transcript, []));
  let outbox = sanitizeOutbox(jsonGet(KEY.outbox, []));
  let lastSeq = null;                 // highest seq rendered/stored
  const bySeq = new Map();            // seq -> {msg, el}
  const pendingEls = new Map();       // client_id -> element (pending or failed)
  let convState = null;               // 'waiting' | 'agent' | 'bot' | 'closed' | null

  let ws = null;
  let welcomed = false;
  let everWelcomed = false;
  let ready = false;                  // welcomed and initial outbox flush done
  let attempt = 0;
  let reconnectTimer = null;
  let connectingTimer = null;
  let flushTimer = null;
  let flushDeadline = 0;
  const sentThisConn = new Set();     // client_ids transmitted on the current socket
  let lastSentClientId = null;
  const frameQueue = [];              // non-message frames waiting for a connection (feedback, csat)
  let unread = 0;
  let isOpen = false;
  let botTypingTimer = null;
  let remoteTypingTimer = null;
  let botWaiting = false;
  // An anonymous random id for this browser, so staff see its earlier conversations.
  let customerId = rawGet(KEY.customer);
  if (!customerId || !/^[A-Za-z0-9-]{8,64}$/.test(customerId)) { customerId = uuid(); rawSet(KEY.customer, customerId); }
  // Lines like "Ann joined the chat", placed after the message they followed.
  let systemLines = Array.isArray(jsonGet(KEY.system, [])) ? jsonGet(KEY.system, []).filter((l) => l && typeof l.text === 'string' && typeof l.after === 'number') : [];
  // The last status this browser saw (and whether it rated the chat), across reloads: a status
  // replayed after a reconnect must not announce the same join twice.
  let convMemory = jsonGet(KEY.system + '.state', { state: null, agent: null, rated: null });
  let endedByMe = false;

  function sanitizeTranscript(arr) {
    if (!Array.isArray(arr)) return [];
    const out = [];
    const seen = new Set();
    for (const raw of arr) {
      const m = normalizeMessage(raw, true);
      if (!m || m.seq === null || seen.has(m.seq)) continue;
      seen.add(m.seq);
      out.push(m);
    }
    out.sort((a, b) => a.seq - b.seq);
    return out.slice(-TRANSCRIPT_CAP);
  }
  function sanitizeOutbox(arr) {
    if (!Array.isArray(arr)) return [];
    const out = [];
    for (const e of arr) {
      if (!e || typeof e !== 'object' || typeof e.client_id !== 'string' || typeof e.text !== 'string') continue;
      const entry = { client_id: e.client_id, text: e.text };
      if (toSeq(e.seq) !== null) entry.seq = toSeq(e.seq);
      if (e.choice && typeof e.choice === 'object' && toSeq(e.choice.seq) !== null && toSeq(e.choice.index) !== null) {
        entry.choice = { seq: toSeq(e.choice.seq), index: toSeq(e.choice.index) };
      }
      out.push(entry);
    }
    return out;
  }

  // Keep only known fields, with the right types.
  function normalizeMessage(f, fromStore) {
    if (!f || typeof f !== 'object') return null;
    const role = f.role === 'user' || f.role === 'agent' || f.role === 'bot' ? f.role : 'bot';
    const m = { seq: toSeq(f.seq), role: role, text: str(f.text) };
    if (f.client_id !== undefined && f.client_id !== null) m.client_id = str(f.client_id);
    if (role === 'agent') m.agent_name = str(f.agent_name).trim() || t('supportAgent');
    if (typeof f.created_at === 'string' && !Number.isNaN(Date.parse(f.created_at))) m.created_at = f.created_at;
    if (role === 'bot') {
      m.suggestions = Array.isArray(f.suggestions)
        ? f.suggestions.filter((s) => typeof s === 'string' && s.trim() !== '').slice(0, 12) : [];
      m.sources = Array.isArray(f.sources)
        ? f.sources.filter((s) => s && typeof s === 'object')
          .map((s) => ({ id: str(s.id), title: str(s.title).trim() || str(s.id), url: str(s.url) }))
          .filter((s) => s.title !== '').slice(0, 12) : [];
      if (f.intent && typeof f.intent === 'object') {
        m.intent = { name: str(f.intent.name), confidence: typeof f.intent.confidence === 'number' ? f.intent.confidence : null };
      } else m.intent = null;
      if (toSeq(f.reply_to) !== null) m.reply_to = toSeq(f.reply_to);
      if (typeof f.action === 'string') m.action = f.action;
      if (f.asking === true) m.asking = true;
      if (fromStore) {
        if (f.rating === 'up' || f.rating === 'down') m.rating = f.rating;
        if (toSeq(f.chosen) !== null) m.chosen = toSeq(f.chosen);
      }
    }
    return m;
  }

  function saveTranscript() {
    transcript.sort((a, b) => a.seq - b.seq);
    if (transcript.length > TRANSCRIPT_CAP) transcript = transcript.slice(-TRANSCRIPT_CAP);
    jsonSet(KEY.transcript, transcript);
  }
  function saveOutbox() { jsonSet(KEY.outbox, outbox); }

  // -------------------------------------------------------------------- DOM --
  const host = document.createElement('div');
  host.id = 'support-chat-widget';
  // Inline !important declarations beat any page stylesheet rule on the host.
  host.style.setProperty('all', 'initial', 'important');
  host.style.setProperty('display', 'block', 'important');
  host.style.setProperty('position', 'static', 'important');
  host.style.setProperty('width', '0', 'important');
  host.style.setProperty('height', '0', 'important');
  host.style.setProperty('overflow', 'visible', 'important');
  host.style.setProperty('visibility', 'visible', 'important');
  host.style.setProperty('opacity', '1', 'important');

  const shadow = host.attachShadow({ mode: 'open' });
  // Constructable stylesheets are not blocked by a page's strict CSP
  // (style-src without 'unsafe-inline'); fall back to a <style> element.
  let styled = false;
  try {
    if ('adoptedStyleSheets' in shadow && typeof CSSStyleSheet === 'function') {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      shadow.adoptedStyleSheets = [sheet];
      styled = true;
    }
  } catch (e) { styled = false; }
  if (!styled) {
    const style = document.createElement('style');
    style.textContent = CSS;
    shadow.appendChild(style);
  }

  const root = h('div', { class: 'root' });
  shadow.appendChild(root);

  const panelId = 'sc-panel';
  const titleId = 'sc-title';

  const launcher = h('button', { type: 'button', class: 'launcher', 'aria-label': t('openChat'), 'aria-expanded': 'false', 'aria-controls': panelId, 'aria-haspopup': 'dialog' });
  launcher.appendChild(icon(ICON.chat, { size: 26 }));
  const badge = h('span', { class: 'badge', 'aria-hidden': 'true', hidden: true });
  launcher.appendChild(badge);

  const panel = h('div', { class: 'panel', id: panelId, role: 'dialog', 'aria-modal': 'false', 'aria-labelledby': titleId, hidden: true });

  const header = h('div', { class: 'header' });
  const avatarEl = h('img', { class: 'avatar', alt: '', width: '32', height: '32', hidden: true });
  const names = h('div', { class: 'names' });
  const title = h('h2', { class: 'title', id: titleId }, TITLE);
  const botNameEl = h('div', { class: 'bot-name' });
  names.append(title, botNameEl);
  const endBtn = h('button', { type: 'button', class: 'end-chat' }, t('endChat'));
  const closeBtn = h('button', { type: 'button', class: 'close', 'aria-label': t('closeChat'), title: t('close') });
  closeBtn.appendChild(icon(ICON.close, { size: 20 }));
  header.append(avatarEl, names, endBtn, closeBtn);

  const statusEl = h('div', { class: 'status', role: 'status', hidden: true });
  const statusText = h('span', { class: 'status-text' });
  const retryBtn = h('button', { type: 'button', class: 'retry' }, t('retry'));
  statusEl.append(statusText, retryBtn);

  const convStatusEl = h('div', { class: 'conv-status', role: 'status', hidden: true });

  const messages = h('div', { class: 'messages', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-label': t('messagesLabel'), tabindex: '0' });
  // The welcome message: the first bubble of every conversation, never stored or sent.
  const emptyEl = h('div', { class: 'welcome' });
  const welcomeAuthor = h('div', { class: 'author' });
  const welcomeText = h('div', { class: 'text' }, t('welcome'));
  emptyEl.append(welcomeAuthor, welcomeText);
  messages.appendChild(emptyEl);

  const typingEl = h('div', { class: 'typing', hidden: true });
  const typingBubble = h('div', { class: 'bubble' });
  typingBubble.append(h('span', { class: 'dot' }), h('span', { class: 'dot' }), h('span', { class: 'dot' }));
  const typingWho = h('span', { class: 'who' });
  const typingSr = h('span', { class: 'sr-only' }, t('typing'));
  typingBubble.append(typingWho, typingSr);
  typingEl.appendChild(typingBubble);

  // End-of-chat rating
  const csatArea = h('div', { class: 'csat-area', hidden: true });
  const csatForm = h('form', { class: 'csat', 'aria-label': t('rateChat') });
  const csatQ = h('p', { class: 'csat-q', id: 'sc-csat-q' }, t('howWasChat'));
  const starsWrap = h('div', { class: 'stars', role: 'group', 'aria-labelledby': 'sc-csat-q' });
  const starBtns = [];
  for (let i = 1; i <= 5; i++) {
    const b = h('button', { type: 'button', class: 'star', 'data-value': String(i), 'aria-label': t(i === 1 ? 'star' : 'stars', { n: i }), 'aria-pressed': 'false' });
    b.appendChild(icon(ICON.star, { size: 26, fill: true }));
    starBtns.push(b);
    starsWrap.appendChild(b);
  }
  const csatComment = h('textarea', { class: 'csat-comment', rows: '2', maxlength: '2000', placeholder: t('commentPlaceholder'), 'aria-label': t('commentLabel') });
  const csatActions = h('div', { class: 'csat-actions' });
  const csatCancel = h('button', { type: 'button', class: 'csat-cancel' }, t('skip'));
  const csatSubmit = h('button', { type: 'submit', class: 'csat-submit', disabled: true }, t('sendRating'));
  csatActions.append(csatCancel, csatSubmit);
  csatForm.append(csatQ, starsWrap, csatComment, csatActions);
  const csatThanks = h('div', { class: 'csat-thanks', role: 'status', hidden: true }, t('thanks'));
  const newChatBtn = h('button', { type: 'button', class: 'new-chat', hidden: true }, t('newChat'));
  csatArea.append(csatForm, csatThanks, newChatBtn);

  // Composer
  const composer = h('form', { class: 'composer', 'aria-label': t('sendMessage') });
  const input = h('textarea', { rows: '1', placeholder: t('typeMessage'), 'aria-label': t('message'), enterkeyhint: 'send', autocomplete: 'off' });
  const sendBtn = h('button', { type: 'submit', class: 'send', 'aria-label': t('send') });
  sendBtn.appendChild(icon(ICON.send, { size: 18 }));
  const meta = h('div', { class: 'composer-meta' });
  const limitNotice = h('div', { class: 'limit-notice', role: 'alert', hidden: true });
  const counter = h('div', { class: 'counter', 'aria-hidden': 'true', hidden: true });
  meta.append(limitNotice, counter);
  composer.append(input, sendBtn, meta);

  // The composer comes before the rating form in DOM order (so the first
  // textarea / submit button in the panel is the composer's); CSS `order`
  // shows the rating area above it.
  panel.append(header, statusEl, convStatusEl, messages, typingEl, composer, csatArea);
  root.append(launcher, panel);

  // ------------------------------------------------------------- rendering --
  function isNearBottom() {
    return messages.scrollHeight - messages.scrollTop - messages.clientHeight < 80;
  }
  function scrollToBottom() { messages.scrollTop = messages.scrollHeight; }
  // The welcome bubble stays at the top of every conversation (it used to hide once one began).
  function updateEmpty() {
    emptyEl.hidden = false;
  }

  function elSeq(el) {
    const v = el.getAttribute && el.getAttribute('data-seq');
    return v === null || v === undefined ? null : Number(v);
  }

  // Insert an element in seq order: it goes before trailing pending user
  // messages and before any sequenced message with a larger seq. Elements
  // without a seq (errors, notices) act as fixed anchors.
  function insertMsgEl(el, seq) {
    let ref = null;
    let node = messages.lastElementChild;
    while (node && node !== emptyEl) {
      const s = elSeq(node);
      const movable = node.classList.contains('pending') || (seq !== null && s !== null && s > seq);
      if (!movable) break;
      ref = node;
      node = node.previousElementSibling;
    }
    if (seq === null) { messages.appendChild(el); return; }
    messages.insertBefore(el, ref);
  }

  function renderMessage(m) {
    const el = h('div', { class: 'msg ' + m.role });
    if (m.seq !== null) el.setAttribute('data-seq', String(m.seq));
    if (m.client_id) el.setAttribute('data-client-id', m.client_id);
    if (m.role === 'agent') el.appendChild(h('div', { class: 'author' }, m.agent_name));
    if (m.role === 'bot' && look.botName) el.appendChild(h('div', { class: 'author' }, look.botName));
    el.appendChild(h('div', { class: 'text' }, m.text));
    if (m.role === 'bot') decorateBot(el, m);
    addTime(el, m.created_at);
    return el;
  }

  function addTime(el, iso) {
    if (!iso) return;
    // The server's times are UTC; one read back from SQLite comes without its offset.
    const date = new Date(/(Z|[+-]\d\d:?\d\d)$/.test(iso) ? iso : iso + 'Z');
    if (Number.isNaN(date.getTime())) return;
    const shown = date.toLocaleTimeString(LANG, { hour: '2-digit', minute: '2-digit' });
    el.appendChild(h('time', { class: 'time', datetime: date.toISOString(), title: date.toLocaleString(LANG) }, shown));
  }

  // Thumbs only under answers: an ask-back, a question for an order's details, an offer of a
  // person or the hand-off itself is no answer to rate (a transcript stored before actions were
  // kept counts as an answer).
  function isAnswer(m) {
    if (m.asking) return false;
    return m.action === undefined ? !(m.suggestions && m.suggestions.length) : m.action === 'answer' || m.action === 'knowledge';
  }

  // Only http(s) targets become links: a javascript: or data: URL stays text.
  function safeHref(url) { return /^https?:\/\/[^\s]+$/i.test(url) ? url : null; }
  function link(href, text) {
    return h('a', { href: href, target: '_blank', rel: 'noopener noreferrer' }, text);
  }
  // Reply text with its e-mail addresses and web addresses as links, built node by node.
  const LINKABLE = /([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})|(https?:\/\/[^\s<>"']+)/g;
  function linkedText(container, text) {
    container.textContent = '';
    let last = 0;
    for (const found of text.matchAll(LINKABLE)) {
      let shown = found[0];
      // A sentence's closing punctuation is not part of the address.
      const trail = /[.,;:!?)\]]+$/.exec(shown);
      if (trail) shown = shown.slice(0, -trail[0].length);
      container.appendChild(document.createTextNode(text.slice(last, found.index)));
      const href = found[1] ? 'mailto:' + shown : safeHref(shown);
      container.appendChild(href ? link(href, shown) : document.createTextNode(shown));
      last = found.index + shown.length;
    }
    container.appendChild(document.createTextNode(text.slice(last)));
  }
  function decorateBot(el, m) {
    const body = el.querySelector('.text');
    if (body) linkedText(body, m.text);
    if (m.sources && m.sources.length) {
      // Each cited article once: a link to the help centre where the server gave its address.
      const list = h('div', { class: 'sources' }, 'Sources: ');
      m.sources.forEach((s, i) => {
        if (i > 0) list.appendChild(document.createTextNode(', '));
        const href = safeHref(s.url || '');
        list.appendChild(href ? link(href, s.title) : document.createTextNode(s.title));
      });
      el.appendChild(list);
    }
    if (m.suggestions && m.suggestions.length) {
      const wrap = h('div', { class: 'suggestions', role: 'group', 'aria-label': t('suggested') });
      m.suggestions.forEach((s, i) => {
        const b = h('button', { type: 'button', class: 'suggestion', 'data-index': String(i) }, s);
        if (m.chosen !== undefined) {
          b.disabled = true;
          if (m.chosen === i) b.classList.add('chosen');
        }
        b.addEventListener('click', () => onSuggestion(m, i, wrap));
        wrap.appendChild(b);
      });
      el.appendChild(wrap);
    }
    if (m.seq !== null && isAnswer(m)) {
      const fb = h('div', { class: 'feedback' });
      const up = h('button', { type: 'button', class: 'rate-up', 'aria-label': t('helpful'), title: t('helpful'), 'aria-pressed': 'false' });
      up.appendChild(icon(ICON.up, { size: 15 }));
      const down = h('button', { type: 'button', class: 'rate-down', 'aria-label': t('notHelpful'), title: t('notHelpful'), 'aria-pressed': 'false' });
      down.appendChild(icon(ICON.down, { size: 15 }));
      const mark = (rating) => {
        up.classList.toggle('chosen', rating === 'up');
        down.classList.toggle('chosen', rating === 'down');
        up.setAttribute('aria-pressed', String(rating === 'up'));
        down.setAttribute('aria-pressed', String(rating === 'down'));
      };
      if (m.rating) mark(m.rating);
      up.addEventListener('click', () => { if (m.rating !== 'up') { m.rating = 'up'; mark('up'); onFeedback(m, 'up'); } });
      down.addEventListener('click', () => { if (m.rating !== 'down') { m.rating = 'down'; mark('down'); onFeedback(m, 'down'); } });
      fb.append(up, down);
      el.appendChild(fb);
    }
  }

  // Add a sequenced message (from server or storage). Returns false if dup.
  function addMessage(m, opts) {
    const o = opts || {};
    if (m.seq !== null && bySeq.has(m.seq)) return false;
    const stick = o.forceScroll || isNearBottom();
    const el = renderMessage(m);
    insertMsgEl(el, m.seq);
    if (m.seq !== null) {
      bySeq.set(m.seq, { msg: m, el: el });
      if (lastSeq === null || m.seq > lastSeq) lastSeq = m.seq;
      if (o.persist !== false) { transcript.push(m); saveTranscript(); }
    }
    updateEmpty();
    if (stick) scrollToBottom();
    return true;
  }

  function addPendingEl(entry) {
    const el = h('div', { class: 'msg user pending', 'data-client-id': entry.client_id, 'data-note': t('sending') });
    el.appendChild(h('div', { class: 'text' }, entry.text));
    messages.appendChild(el);
    pendingEls.set(entry.client_id, el);
    updateEmpty();
    scrollToBottom();
    return el;
  }

  function addErrorNotice(text) {
    const stick = isNearBottom();
    const el = h('div', { class: 'msg error', role: 'alert' }, text);
    messages.appendChild(el);
    updateEmpty();
    if (stick || isOpen) scrollToBottom();
    return el;
  }

  function clearTranscript() {
    for (const { el } of bySeq.values()) el.remove();
    bySeq.clear();
    messages.querySelectorAll('.msg.error, .msg.failed, .system').forEach((el) => el.remove());
    systemLines = [];
    jsonSet(KEY.system, systemLines);
    transcript = [];
    lastSeq = null;
    saveTranscript();
    updateEmpty();
  }

  // Server confirmed a client message (ack or replayed user message). The message stays in the
  // outbox, with its seq, until its answer arrives: a server that died between the ack and the
  // reply gets it again (same client_id, stored once) after the reconnect, and answers it then.
  function resolveClientMessage(clientId, seq, textFromServer, createdAt) {
    const entry = outbox.find((e) => e.client_id === clientId) || null;
    const el = pendingEls.get(clientId) || null;
    if (!entry && !el) return false;
    if (entry && entry.seq !== undefined && !el) return true;   // a repeated ack
    if (entry) {
      if (seq !== null) entry.seq = seq;
      else outbox.splice(outbox.indexOf(entry), 1);
      saveOutbox();
    }
    pendingEls.delete(clientId);
    if (seq === null) {            // ack without seq: nothing more we can do
      if (el) el.classList.remove('pending');
      return true;
    }
    if (bySeq.has(seq)) {           // already rendered (e.g. from replay): drop the duplicate
      if (el) el.remove();
      updateEmpty();
      return true;
    }
    const m = { seq: seq, role: 'user', text: textFromServer !== undefined ? textFromServer : (entry ? entry.text : (el ? el.textContent : '')), client_id: clientId };
    m.created_at = createdAt || new Date().toISOString();
    if (el) {
      if (!el.querySelector('time')) addTime(el, m.created_at);
      el.classList.remove('pending', 'failed');
      el.setAttribute('data-seq', String(seq));
      const stick = isNearBottom();
      el.remove();
      insertMsgEl(el, seq);
      if (stick) scrollToBottom();
      bySeq.set(seq, { msg: m, el: el });
      if (lastSeq === null || seq > lastSeq) lastSeq = seq;
      transcript.push(m);
      saveTranscript();
    } else {
      addMessage(m);
    }
    return true;
  }

  // A reply (or a person taking the turn) ends the wait for the messages it answers.
  function settleOutbox(answeredSeq) {
    const before = outbox.length;
    outbox = outbox.filter((e) => e.seq === undefined || e.seq > answeredSeq);
    if (outbox.length !== before) saveOutbox();
  }

  function markFailed(clientId) {
    const idx = outbox.findIndex((e) => e.client_id === clientId);
    if (idx >= 0) { outbox.splice(idx, 1); saveOutbox(); }
    const el = pendingEls.get(clientId);
    if (el) { el.classList.remove('pending'); el.classList.add('failed'); el.setAttribute('data-note', t('notDelivered')); }
    pendingEls.delete(clientId);
  }

  function setBadge() {
    badge.hidden = unread <= 0;
    badge.textContent = unread > 9 ? '9+' : String(unread);
    launcher.setAttribute('aria-label', unread > 0 ? t('openChat') + ' (' + (unread === 1 ? t('unreadOne') : t('unreadMany', { n: unread })) + ')' : t('openChat'));
  }

  // Typing indicator: either "waiting for the bot's reply" or a remote
  // {"type":"typing"} signal. Shown if either is active.
  function renderTyping(who) {
    const show = botWaiting || remoteTypingTimer !== null;
    const stick = isNearBottom();
    typingEl.hidden = !show;
    if (who !== undefined) typingWho.textContent = who;
    if (!show) typingWho.textContent = '';
    if (show && stick) scrollToBottom();
  }
  function startBotWaiting() {
    botWaiting = true;
    clearTimeout(botTypingTimer);
    botTypingTimer = setTimeout(stopBotWaiting, BOT_TYPING_TIMEOUT);
    renderTyping('');
  }
  function stopBotWaiting() {
    botWaiting = false;
    clearTimeout(botTypingTimer);
    botTypingTimer = null;
    renderTyping();
  }
  function showRemoteTyping(who) {
    clearTimeout(remoteTypingTimer);
    remoteTypingTimer = setTimeout(() => { remoteTypingTimer = null; renderTyping(); }, REMOTE_TYPING_MS);
    renderTyping(who);
  }
  function stopAllTyping() {
    clearTimeout(remoteTypingTimer);
    remoteTypingTimer = null;
    stopBotWaiting();
  }

  function setConnStatus(kind) {
    if (kind === null) { statusEl.hidden = true; return; }
    let text;
    if (kind === 'connecting') text = t('connecting');
    else if (typeof navigator !== 'undefined' && navigator.onLine === false) text = t('offline');
    else if (!everWelcomed) text = t('unreachable');
    else text = t('reconnecting');
    statusText.textContent = text;
    retryBtn.hidden = kind === 'connecting';
    statusEl.hidden = false;
  }

  function setConvStatus(state, agentName) {
    let text = '';
    if (state === 'waiting') text = t('waiting');
    else if (state === 'agent') text = t('withAgent', { name: agentName || t('anAgent') });
    else if (state === 'bot') text = t('withBot');
    else if (state === 'closed') text = t('closed');
    convStatusEl.textContent = text;
    convStatusEl.hidden = text === '';
  }

  function saveConvMemory() { jsonSet(KEY.system + '.state', convMemory); }

  // Where the customer chats from, for the staff's side panel (the server drops the query string).
  function pageContext() {
    return {
      page_url: str(location.href).slice(0, 2000),
      referrer: str(document.referrer).slice(0, 2000) || null,
      language: (navigator.language || '').slice(0, 35) || null,
      user_agent: str(navigator.userAgent).slice(0, 1000),
    };
  }

  function noteStatusChange(state, agentName) {
    const before = convMemory.state || 'bot';
    const beforeAgent = convMemory.agent;
    if (state === null || (state === before && (state !== 'agent' || agentName === beforeAgent))) return;
    if (before === 'agent' && beforeAgent && (state !== 'agent' || agentName !== beforeAgent)) addSystemLine(t('left', { name: beforeAgent }));
    if (state === 'agent') addSystemLine(t('joined', { name: agentName }));
    if (state === 'closed') addSystemLine(endedByMe ? t('youEnded') : t('agentEnded'));
    convMemory.state = state;
    convMemory.agent = state === 'agent' ? agentName : null;
    saveConvMemory();
  }

  function addSystemLine(text) {
    const line = { after: lastSeq === null ? 0 : lastSeq, text: text };
    systemLines.push(line);
    jsonSet(KEY.system, systemLines.slice(-50));
    renderSystemLine(line);
  }

  function renderSystemLine(line) {
    const stick = isNearBottom();
    const el = h('div', { class: 'system', 'data-seq': String(line.after + 0.5) }, line.text);
    insertMsgEl(el, line.after + 0.5);
    if (stick) scrollToBottom();
  }

  // ------------------------------------------------------------ composer ---
  function checkLength(showAlways) {
    const text = input.value.trim();
    const n = charLen(text);
    const over = n > MAX_LEN;
    counter.hidden = n < COUNTER_FROM;
    counter.textContent = n + ' / ' + MAX_LEN;
    counter.classList.toggle('over', over);
    sendBtn.classList.toggle('over', over);
    sendBtn.setAttribute('aria-disabled', String(over));
    if (over || showAlways) showLimitNotice(over ? n : null);
    else limitNotice.hidden = true;
    return !over;
  }
  function showLimitNotice(n) {
    if (n === null) { limitNotice.hidden = true; return; }
    limitNotice.textContent = t('tooLong', { n: n, max: MAX_LEN });
    limitNotice.hidden = false;
  }
  function autosize() {
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight + 2, 140) + 'px';
  }

  composer.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value;
    if (text.trim() === '') return;
    if (!checkLength(false)) { input.focus(); return; }
    const r = sendMessage(text, null);
    if (r) {
      input.value = '';
      checkLength(false);
      autosize();
    }
    input.focus();
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      if (typeof composer.requestSubmit === 'function') composer.requestSubmit();
      else composer.dispatchEvent(new Event('submit', { cancelable: true }));
    }
  });
  let lastTypingSent = 0;
  input.addEventListener('input', () => {
    checkLength(false);
    autosize();
    // Only a person watches it: "typing" while waiting for or chatting with one.
    const now = Date.now();
    if ((convState === 'agent' || convState === 'waiting') && ready && input.value.trim() && now - lastTypingSent >= TYPING_EVERY_MS) {
      lastTypingSent = now;
      rawSend({ type: 'typing' });
    }
  });

  // ------------------------------------------------------------- actions ---
  function sendMessage(text, choice) {
    const t = str(text).trim();
    if (t === '') return false;
    const n = charLen(t);
    if (n > MAX_LEN) { showLimitNotice(n); return false; }
    const entry = { client_id: uuid(), text: t };
    if (choice) entry.choice = { seq: choice.seq, index: choice.index };
    outbox.push(entry);
    saveOutbox();
    addPendingEl(entry);
    if (ready) transmit(entry);
    return entry.client_id;
  }

  function transmit(entry) {
    const frame = { type: 'message', client_id: entry.client_id, text: entry.text };
    if (entry.choice) frame.choice = { seq: entry.choice.seq, index: entry.choice.index };
    if (!rawSend(frame)) return false;
    sentThisConn.add(entry.client_id);
    lastSentClientId = entry.client_id;
    if (convState !== 'agent' && convState !== 'waiting' && convState !== 'closed') startBotWaiting();
    return true;
  }

  function onSuggestion(m, index, wrap) {
    if (m.chosen !== undefined || m.seq === null) return;
    const text = m.suggestions[index];
    const r = sendMessage(text, { seq: m.seq, index: index });
    if (!r) return;
    m.chosen = index;
    wrap.querySelectorAll('button.suggestion').forEach((b, i) => {
      b.disabled = true;
      b.classList.toggle('chosen', i === index);
    });
    saveTranscript();
  }

  function onFeedback(m, rating) {
    saveTranscript();
    sendOrQueue({ type: 'feedback', seq: m.seq, rating: rating });
  }

  function sendOrQueue(frame) {
    if (ready && rawSend(frame)) return;
    frameQueue.push(frame);
  }

  function rawSend(frame) {
    if (!ws || ws.readyState !== 1) return false;
    try { ws.send(JSON.stringify(frame)); return true; } catch (e) { return false; }
  }

  // CSAT
  let csatRating = 0;
  function setStars(v) {
    csatRating = v;
    starBtns.forEach((b, i) => {
      b.classList.toggle('on', i < v);
      b.setAttribute('aria-pressed', String(i + 1 === v));
    });
    csatSubmit.disabled = v < 1;
  }
  starBtns.forEach((b) => b.addEventListener('click', () => setStars(Number(b.getAttribute('data-value')))));
  // "End chat" closes the conversation on the server ({"type": "end"}); the closed status that
  // comes back offers the rating, then "Start a new chat".
  endBtn.addEventListener('click', () => {
    if (convState === 'closed') { showClosed(); return; }
    // Nothing said yet: nothing to end or rate; the panel just closes.
    if (!transcript.length && !outbox.length) { closePanel(true); return; }
    endedByMe = true;
    sendOrQueue({ type: 'end' });
  });
  csatCancel.addEventListener('click', () => afterRating());
  csatForm.addEventListener('submit', (e) => {
    e.preventDefault();
    if (csatRating < 1 || csatRating > 5) return;
    sendOrQueue({ type: 'csat', rating: csatRating, comment: csatComment.value.trim().slice(0, 2000) });
    csatThanks.hidden = false;
    afterRating();
  });
  newChatBtn.addEventListener('click', () => startNewChat());

  function showClosed() {
    composer.hidden = true;
    endBtn.hidden = true;
    csatArea.hidden = false;
    const rated = convMemory.rated === conversationId;
    csatForm.hidden = rated;
    newChatBtn.hidden = !rated;
    if (!rated) {
      setStars(0);
      csatComment.value = '';
      csatThanks.hidden = true;
      if (isOpen) starBtns[0].focus();
    } else if (isOpen && !panel.contains(shadow.activeElement)) newChatBtn.focus();
  }

  function afterRating() {
    convMemory.rated = conversationId;
    saveConvMemory();
    csatForm.hidden = true;
    newChatBtn.hidden = false;
    newChatBtn.focus();
  }

  // A fresh conversation: the old one stays closed on the server; this browser forgets its token.
  function startNewChat() {
    token = null;
    rawSet(KEY.token, null);
    conversationId = null;
    rawSet(KEY.conv, null);
    clearTranscript();
    outbox = [];
    saveOutbox();
    frameQueue.length = 0;
    convState = null;
    convMemory = { state: null, agent: null, rated: null };
    saveConvMemory();
    endedByMe = false;
    setConvStatus(null);
    csatArea.hidden = true;
    csatThanks.hidden = true;
    newChatBtn.hidden = true;
    composer.hidden = false;
    endBtn.hidden = false;
    if (ws) {
      const old = ws;
      ws = null;
      try { old.close(); } catch (e) { /* already closed */ }
    }
    welcomed = false;
    ready = false;
    attempt = 0;
    connect();
    input.focus();
  }

  // Open / close
  function openPanel(focus) {
    isOpen = true;
    panel.hidden = false;
    launcher.hidden = true;
    launcher.setAttribute('aria-expanded', 'true');
    unread = 0;
    setBadge();
    rawSet(KEY.open, 'true');
    scrollToBottom();
    if (focus) input.focus();
  }
  function closePanel(focus) {
    isOpen = false;
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute('aria-expanded', 'false');
    rawSet(KEY.open, 'false');
    if (focus) launcher.focus();
  }
  launcher.addEventListener('click', () => openPanel(true));
  closeBtn.addEventListener('click', () => closePanel(true));
  panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { e.stopPropagation(); closePanel(true); }
  });
  retryBtn.addEventListener('click', () => { attempt = 0; connect(); });

  // ----------------------------------------------------------- networking --
  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (ws) return;
    let sock;
    try {
      sock = new WebSocket(WS_URL);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    ws = sock;
    welcomed = false;
    ready = false;
    sentThisConn.clear();
    clearTimeout(connectingTimer);
    if (attempt === 0) connectingTimer = setTimeout(() => { if (!welcomed) setConnStatus('connecting'); }, 1500);
    sock.onopen = () => {
      if (ws !== sock) return;
      rawSend({ type: 'hello', token: token || null, last_seq: lastSeq, customer_id: customerId, context: pageContext() });
    };
    sock.onmessage = (ev) => {
      if (ws !== sock) return;
      if (typeof ev.data !== 'string') return;
      let f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (!f || typeof f !== 'object' || Array.isArray(f)) return;
      try { handleFrame(f); } catch (e) { if (window.console) console.error('[support-chat]', e); }
    };
    sock.onerror = () => { /* onclose follows */ };
    sock.onclose = (ev) => {
      if (ws !== sock) return;
      ws = null;
      welcomed = false;
      ready = false;
      clearTimeout(flushTimer);
      clearTimeout(connectingTimer);
      sentThisConn.clear();
      stopAllTyping();
      if (ev && ev.code === 1009) {
        if (lastSentClientId && pendingEls.has(lastSentClientId)) markFailed(lastSentClientId);
        addErrorNotice(t('tooLarge'));
      }
      lastSentClientId = null;
      setConnStatus('reconnecting');
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    clearTimeout(reconnectTimer);
    let delay = Math.min(BACKOFF_MAX, BACKOFF_BASE * Math.pow(2, attempt));
    delay = Math.min(BACKOFF_MAX, Math.round(delay * (0.8 + Math.random() * 0.4)));
    attempt = Math.min(attempt + 1, 30);
    reconnectTimer = setTimeout(connect, delay);
  }

  function scheduleFlush() {
    clearTimeout(flushTimer);
    const wait = Math.max(0, Math.min(REPLAY_QUIET_MS, flushDeadline - Date.now()));
    flushTimer = setTimeout(flush, wait);
  }

  function flush() {
    flushTimer = null;
    if (!welcomed || !ws || ws.readyState !== 1) return;
    ready = true;
    for (const entry of outbox.slice()) {
      if (!sentThisConn.has(entry.client_id)) transmit(entry);
    }
    while (frameQueue.length && ready) {
      if (!rawSend(frameQueue[0])) break;
      frameQueue.shift();
    }
  }

  function handleFrame(f) {
    switch (f.type) {
      case 'welcome': {
        if (typeof f.token === 'string' && f.token) { token = f.token; rawSet(KEY.token, token); }
        const cid = f.conversation_id === undefined || f.conversation_id === null ? null : str(f.conversation_id);
        if (cid !== null && cid !== conversationId) {
          if (conversationId !== null || transcript.length) clearTranscript();
          // Acknowledged messages belonged to the old conversation; unsent ones go to the new one.
          outbox = outbox.filter((e) => e.seq === undefined);
          saveOutbox();
          conversationId = cid;
          rawSet(KEY.conv, cid);
          convState = null;
          convMemory = { state: null, agent: null, rated: null };
          saveConvMemory();
          setConvStatus(null);
        }
        welcomed = true;
        everWelcomed = true;
        attempt = 0;
        clearTimeout(connectingTimer);
        setConnStatus(null);
        // Replay frames follow the welcome; resend the outbox once they settle.
        flushDeadline = Date.now() + REPLAY_MAX_MS;
        scheduleFlush();
        break;
      }
      case 'message': {
        const m = normalizeMessage(f, false);
        if (!m) return;
        if (!ready && flushTimer !== null) scheduleFlush();
        if (m.role === 'user' && m.client_id && (pendingEls.has(m.client_id) || outbox.some((e) => e.client_id === m.client_id))) {
          resolveClientMessage(m.client_id, m.seq, m.text, m.created_at);
          return;
        }
        if (m.role === 'bot' && m.reply_to !== undefined) settleOutbox(m.reply_to);
        else if (m.role === 'agent' && m.seq !== null) settleOutbox(m.seq);
        if (m.seq !== null && bySeq.has(m.seq)) return; // duplicate
        const fresh = addMessage(m, { forceScroll: m.role === 'user' });
        if (!fresh) return;
        if (m.role === 'bot' || m.role === 'agent') {
          stopAllTyping();
          if (!isOpen) { unread++; setBadge(); }
        }
        break;
      }
      case 'ack': {
        resolveClientMessage(str(f.client_id), toSeq(f.seq));
        if (convState === 'agent' || convState === 'waiting') settleOutbox(Infinity);
        break;
      }
      case 'error': {
        const detail = str(f.detail).trim() || str(f.code).trim() || t('wentWrong');
        if (f.client_id && pendingEls.has(str(f.client_id))) markFailed(str(f.client_id));
        stopBotWaiting();
        addErrorNotice(detail);
        break;
      }
      case 'status': {
        const st = f.state === 'waiting' || f.state === 'agent' || f.state === 'bot' || f.state === 'closed' ? f.state : null;
        noteStatusChange(st, str(f.agent_name).trim() || t('anAgent'));
        convState = st;
        // A person answers from now on: nothing acknowledged is waiting for the bot any more.
        if (st === 'agent' || st === 'waiting') settleOutbox(Infinity);
        setConvStatus(st, str(f.agent_name).trim());
        if (st === 'agent' || st === 'waiting' || st === 'closed') stopBotWaiting();
        if (st === 'closed') showClosed();
        break;
      }
      case 'typing': {
        const who = f.role === 'agent' ? (str(f.agent_name).trim() ? t('agentTyping', { name: str(f.agent_name).trim() }) : t('someoneTyping')) : '';
        showRemoteTyping(who);
        break;
      }
      case 'feedback_ok': {
        const rec = bySeq.get(toSeq(f.seq));
        if (rec) rec.el.setAttribute('data-feedback', 'ok');
        break;
      }
      default:
        break; // unknown frames are ignored (forward compatible)
    }
  }

  // ---------------------------------------------------------------- boot ---
  function boot() {
    if (document.getElementById('support-chat-widget')) return;
    document.body.appendChild(host);
    window.SupportChat = api;

    // Re-render the stored transcript instantly, then any unsent messages.
    for (const m of transcript) addMessage(m, { persist: false });
    for (const line of systemLines) renderSystemLine(line);
    for (const entry of outbox) if (entry.seq === undefined) addPendingEl(entry);
    root.setAttribute('lang', LANG);
    applyLook();
    loadLook();
    updateEmpty();
    setBadge();

    const wasOpen = rawGet(KEY.open);
    if (wasOpen === 'true' || wasOpen === '1') openPanel(false);

    window.addEventListener('online', () => { if (!ws) { attempt = 0; connect(); } });
    window.addEventListener('offline', () => { if (!welcomed) setConnStatus('reconnecting'); });
    connect();
  }

  // ------------------------------------------------------------------ look --
  function applyLook() {
    botNameEl.textContent = look.botName || '';
    botNameEl.hidden = !look.botName;
    welcomeAuthor.textContent = look.botName || '';
    welcomeAuthor.hidden = !look.botName;
    welcomeText.textContent = look.welcome || t('welcome');
    const src = sameOriginImage(look.avatar);
    if (src) avatarEl.setAttribute('src', src); else avatarEl.removeAttribute('src');
    avatarEl.hidden = !src;
  }

  function loadLook() {
    if (typeof fetch !== 'function') return;
    fetch(SERVER_BASE + '/widget-config.json', { credentials: 'omit' })
      .then((r) => (r.ok ? r.json() : null))
      .then((c) => {
        if (!c || typeof c !== 'object') return;
        if (!attr('data-bot-name') && typeof c.bot_name === 'string') look.botName = c.bot_name.trim() || null;
        // The server's welcome is in the shop's language; a page asking for another keeps its own.
        if (!attr('data-welcome') && typeof c.welcome === 'string' && LANG === 'en') look.welcome = c.welcome.trim() || null;
        if (!attr('data-avatar') && typeof c.avatar === 'string') look.avatar = c.avatar;
        applyLook();
        bySeq.forEach((rec) => {
          if (rec.msg.role !== 'bot' || rec.el.querySelector('.author')) return;
          if (look.botName) rec.el.insertBefore(h('div', { class: 'author' }, look.botName), rec.el.firstChild);
        });
      })
      .catch(() => { /* the built-in look stays */ });
  }

  const api = {
    open: function () { openPanel(true); },
    close: function () { closePanel(false); },
    send: function (text) { return sendMessage(text, null); },
    state: function () {
      return {
        connected: !!(ws && ws.readyState === 1 && welcomed),
        conversationId: conversationId,
        token: token,
        lastSeq: lastSeq,
        pending: outbox.length,
      };
    },
  };

  if (document.body) boot();
  else document.addEventListener('DOMContentLoaded', boot, { once: true });
})();
