/*
 * The Learning tab (operators): start a round, follow it, read its gate report, then promote,
 * shadow or discard the candidate; roll production back with a reason.
 *
 * A round runs in its own process on the server; this page only polls its record, so a reload
 * or another operator's browser shows the same round. All text goes through textContent.
 */
import { $, api, attempt, cell, el, notice, number, when } from './api.js';

const POLL_MS = 1000;
const FINISHED = ['succeeded', 'failed', 'cancelled'];
const PHASES = {
  starting: 'Starting the round process',
  'building data': 'Building the round data',
  training: 'Training',
  evaluating: 'Evaluating and saving the candidate',
  gating: 'Gating: comparing with production',
};

const view = { roundId: null, timer: null, record: null };

// ------------------------------------------------------------ the list --
export async function loadRounds() {
  const data = await api('GET', '/api/rounds');
  $('production-version').textContent = data.production || 'none';
  $('start-round').querySelector('button[type=submit]').disabled = data.running !== null;
  $('round-running').hidden = data.running === null;
  const body = $('round-list').tBodies[0];
  body.replaceChildren();
  for (const round of data.rounds) {
    const row = el('tr', { class: 'clickable', 'data-round-id': round.id, 'data-state': round.state });
    row.append(
      cell(when(round.started_at)),
      cell(round.started_by),
      cell(round.state, 'round-state'),
      cell(FINISHED.includes(round.state) ? '' : phaseText(round)),
      cell(round.candidate || ''),
      cell(gateWord(round.gate)),
      cell(round.decision ? round.decision.action + ' by ' + round.decision.actor : ''),
    );
    row.addEventListener('click', () => { window.location.hash = 'r/' + round.id; });
    body.appendChild(row);
  }
  if (!data.rounds.length) {
    const row = el('tr');
    row.appendChild(el('td', { colspan: 7, class: 'empty' }, 'No rounds yet.'));
    body.appendChild(row);
  }
  schedule(data.running !== null ? loadRounds : null);
}

export function leaveRounds() {
  schedule(null);
  view.roundId = null;
  view.record = null;
}

async function startRound(form) {
  const values = new FormData(form);
  const body = {};
  if (values.get('epochs')) body.epochs = Number(values.get('epochs'));
  if (values.get('warm_start')) body.warm_start = values.get('warm_start') === 'true';
  const round = await api('POST', '/api/rounds', body);
  window.location.hash = 'r/' + round.id;
}

async function rollBack() {
  const reason = $('rollback-reason').value.trim();
  if (!reason) {
    notice('Say why you roll back; the reason is recorded.');
    return;
  }
  const result = await api('POST', '/api/adapters/rollback', { reason: reason });
  $('rollback-reason').value = '';
  $('rollback-result').textContent = result.production + ' is in production again.';
  await loadRounds();
}

// ----------------------------------------------------------- one round --
export function openRound(id) {
  if (view.roundId !== id) {
    view.roundId = id;
    view.record = null;
    $('round-report').hidden = true;
    $('round-messages').replaceChildren();
  }
  attempt(refreshRound);
}

async function refreshRound() {
  const id = view.roundId;
  if (id === null) return;
  const record = await api('GET', '/api/rounds/' + encodeURIComponent(id));
  if (id !== view.roundId) return;
  view.record = record;
  renderRound(record);
  schedule(FINISHED.includes(record.state) ? null : refreshRound);
}

function renderRound(r) {
  const page = $('view-round');
  page.setAttribute('data-state', r.state);
  $('r-title').textContent = 'Round ' + r.id;
  $('r-state').textContent = r.state;
  $('r-started').textContent = 'started by ' + r.started_by + ', ' + when(r.started_at);
  $('r-candidate').textContent = r.candidate || 'none yet';
  $('r-phase').textContent = FINISHED.includes(r.state) ? finishedText(r) : phaseText(r);
  const bar = $('r-progress');
  bar.hidden = !r.progress.steps;
  bar.max = r.progress.steps || 1;
  bar.value = r.progress.step;
  $('r-cancel').hidden = FINISHED.includes(r.state);
  $('r-cancel').disabled = r.cancel_requested;
  const messages = $('round-messages');
  messages.replaceChildren(...r.messages.map((m) => el('li', null, m.text)));
  renderDecision(r);
  const report = $('round-report');
  report.hidden = !r.gate;
  if (r.gate) renderReport(r.gate);
  $('r-no-gate').hidden = !(r.state === 'succeeded' && !r.gate);
}

function phaseText(r) {
  const name = PHASES[r.phase] || r.phase;
  if (r.phase === 'training' && r.progress.steps) {
    return name + ': step ' + r.progress.step + ' of ' + r.progress.steps;
  }
  return name + (r.cancel_requested ? ' (cancelling…)' : '') + '…';
}

function finishedText(r) {
  if (r.state === 'succeeded') return 'Finished ' + when(r.finished_at) + '; candidate ' + r.candidate + '.';
  if (r.state === 'cancelled') return 'Cancelled' + (r.cancelled_by ? ' by ' + r.cancelled_by : '') + '.';
  return 'Failed: ' + (r.error || 'unknown error');
}

function renderDecision(r) {
  const open = r.state === 'succeeded' && r.candidate_state === 'candidate';
  $('round-decide').hidden = !open;
  $('r-force-row').hidden = !(r.gate && !r.gate.passed);
  $('r-shadow').textContent = r.candidate_shadow ? 'Stop shadowing' : 'Shadow';
  const decided = $('r-decision');
  if (r.decision) {
    decided.textContent = 'Decision: ' + r.decision.action + ' by ' + r.decision.actor + ', ' + when(r.decision.at)
      + (r.decision.reason ? ' (' + r.decision.reason + ')' : '') + '.';
  } else if (r.candidate_state && r.candidate_state !== 'candidate') {
    decided.textContent = 'The candidate is ' + r.candidate_state + '.';
  } else {
    decided.textContent = '';
  }
}

async function decide(action) {
  const id = view.roundId;
  const reason = $('r-reason').value.trim();
  const path = '/api/rounds/' + encodeURIComponent(id) + '/' + action;
  const buttons = $('round-decide').querySelectorAll('button');
  for (const button of buttons) button.disabled = true;
  try {
    if (action === 'promote') {
      // The gate runs again on today's data before anything is served: seconds, not instant.
      $('r-decision').textContent = 'Promoting: the gate checks the candidate once more…';
      await api('POST', path, { reason: reason, force: $('r-force').checked });
    } else if (action === 'shadow') {
      await api('POST', path, { on: !(view.record && view.record.candidate_shadow) });
    } else {
      await api('POST', path, { reason: reason });
    }
    $('r-reason').value = '';
  } finally {
    for (const button of buttons) button.disabled = false;
    await refreshRound();
  }
}

// --------------------------------------------------------- gate report --
function renderReport(gate) {
  $('g-verdict').textContent = gate.passed ? 'The gate passed.' : 'The gate refused this candidate.';
  $('g-verdict').className = gate.passed ? 'verdict good' : 'verdict bad';
  const lines = gate.summary && gate.summary.length ? gate.summary : gate.reasons || [];
  $('g-summary').replaceChildren(...lines.map((line) => el('li', null, line)));
  const held = gate.held_out;
  $('g-held-out').textContent = 'Held-out utterances: ' + held.examples + '; accuracy ' + number(held.production_accuracy, 4)
    + ' (' + gate.production + ') → ' + number(held.candidate_accuracy, 4) + ' (' + gate.candidate + ').';
  $('g-replay').textContent = gate.replay
    ? 'Staff-labelled turns replayed: ' + gate.replay.examples + '; accuracy ' + number(gate.replay.production_accuracy, 4)
      + ' → ' + number(gate.replay.candidate_accuracy, 4) + '.'
    : 'No staff-labelled turns to replay.';
  renderIntents(held.intents || []);
  renderNewIntents(held.new_intents || []);
  const changes = $('g-changes');
  changes.replaceChildren();
  const sections = [['Held-out', held]].concat(gate.replay ? [['Replay', gate.replay]] : []);
  for (const [name, section] of sections) {
    for (const kind of ['fixed', 'broken', 'changed']) {
      for (const row of (section.changes && section.changes[kind]) || []) {
        const tr = el('tr', { class: 'change ' + kind });
        tr.append(cell(name), cell(kind), cell(row.text, 'text'), cell(row.label), cell(row.production), cell(row.candidate));
        changes.appendChild(tr);
      }
    }
  }
  if (!changes.children.length) {
    const tr = el('tr');
    tr.appendChild(el('td', { colspan: 6, class: 'empty' }, 'No utterance changed its intent.'));
    changes.appendChild(tr);
  }
}

function renderIntents(rows) {
  const body = $('g-intents').tBodies[0];
  body.replaceChildren();
  // Intents where something moved first; the rest follow for reference.
  const sorted = rows.slice().sort((a, b) => (b.fixed + b.broken) - (a.fixed + a.broken) || a.intent.localeCompare(b.intent));
  for (const row of sorted) {
    const tr = el('tr', { 'data-intent': row.intent, class: row.broken > row.fixed ? 'worse' : '' });
    tr.append(
      cell(row.intent),
      cell(row.examples),
      cell(row.fixed),
      cell(row.broken),
      cell(number(row.production_accuracy) + ' → ' + number(row.candidate_accuracy)),
      cell(signed(row.accuracy_difference) + ' ' + interval(row.accuracy_interval)),
      cell(signed(row.f1_difference) + ' ' + interval(row.f1_interval)),
      cell(number(row.p_holm, 3)),
      cell(row.verdict || ''),
    );
    body.appendChild(tr);
  }
  $('g-intents').hidden = !rows.length;
}

function renderNewIntents(rows) {
  const body = $('g-new-intents').tBodies[0];
  body.replaceChildren();
  for (const row of rows) {
    const tr = el('tr', { 'data-intent': row.intent });
    tr.append(
      cell(row.intent),
      cell(row.correct + ' of ' + row.examples),
      cell(interval(row.interval, false)),
      cell(row.judged ? 'judged' : 'too few held-out turns to judge'),
    );
    body.appendChild(tr);
  }
  $('g-new-intents').hidden = !rows.length;
}

function signed(x) { return typeof x === 'number' ? (x >= 0 ? '+' : '') + x.toFixed(2) : '–'; }

// A confidence interval; differences are shown signed, proportions plain.
function interval(pair, differences = true) {
  if (!Array.isArray(pair) || pair.length !== 2) return '';
  const show = differences ? signed : (x) => number(x);
  return '(' + show(pair[0]) + ', ' + show(pair[1]) + ')';
}

function gateWord(gate) {
  if (!gate) return '';
  return gate.passed ? 'passed' : 'refused';
}

function schedule(job) {
  clearTimeout(view.timer);
  view.timer = job ? setTimeout(() => attempt(job), POLL_MS) : null;
}

export function wireRounds() {
  $('start-round').addEventListener('submit', (event) => {
    event.preventDefault();
    attempt(() => startRound(event.target));
  });
  $('rollback').addEventListener('click', () => attempt(rollBack));
  $('r-cancel').addEventListener('click', () => attempt(async () => {
    await api('POST', '/api/rounds/' + encodeURIComponent(view.roundId) + '/cancel');
    await refreshRound();
  }));
  for (const action of ['promote', 'shadow', 'discard']) {
    $('r-' + action).addEventListener('click', () => attempt(() => decide(action)));
  }
}
