/*
 * The console's live connection (/ws/staff): reconnects with backoff, and sends the browser to
 * the login page when the server ends the session (close code 4401).
 */
import { $, api, toLogin } from './api.js';

const SESSION_ENDED = 4401;
const BACKOFF_MAX_MS = 15000;

export class LiveSocket {
  constructor(onOpen, onEvent) {
    this.onOpen = onOpen;
    this.onEvent = onEvent;
    this.socket = null;
    this.attempt = 0;
  }

  connect() {
    const url = (window.location.protocol === 'https:' ? 'wss://' : 'ws://') + window.location.host + '/ws/staff';
    let socket;
    try { socket = new WebSocket(url); } catch (e) { this.reconnectLater(); return; }
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      $('live-state').classList.add('on');
      this.onOpen();
    };
    socket.onmessage = (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame && typeof frame === 'object') this.onEvent(frame);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      $('live-state').classList.remove('on');
      if (event.code === SESSION_ENDED) { toLogin(); return; }
      this.reconnectLater();
    };
  }

  reconnectLater() {
    const delay = Math.min(BACKOFF_MAX_MS, 500 * Math.pow(2, this.attempt));
    this.attempt = Math.min(this.attempt + 1, 10);
    // A refused handshake looks like a network error; /me tells whether the session is gone
    // (a 401 goes to the login page).
    const connect = () => this.connect();
    setTimeout(() => { api('GET', '/api/auth/me').then(connect, connect); }, delay);
  }

  send(frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }
}
