// The task manager: the user's background tasks as the server lists them
// (GET /api/tasks: active ones and those finished in the last day), polled every
// second while anything runs and every few seconds otherwise; in a hidden tab only every
// half minute, with a refresh as soon as it is shown again. Because the list comes
// from the server, it survives reloads and is the same in every tab and on every device;
// tabs also nudge each other over a BroadcastChannel when they start or cancel a task,
// so the others need not wait for their next poll.
//
// The dock (bottom right) shows the most recent tasks with progress, Cancel and Dismiss;
// a refresh rebuilds only the rows whose task changed.

import { api } from './api.js';
import { isSignedIn, onAuthChange } from './auth.js';
import { formatClock, h, replace, truncate } from './dom.js';
import { plainWords } from './http.js';
import { keyedRows, signatureOf } from './keyed.js';
import { isHidden, repeater } from './poll.js';

const ACTIVE = new Set(['pending', 'processing']);
const FAST_MS = 1000;
const IDLE_MS = 8000;
const DOCK_LIMIT = 5;
const COLLAPSE_KEY = 'utter_dock_collapsed';

let tasks = [];
let fetchedAt = 0;
let tickTimer = null;
let inFlight = null;
let running = false;
let unavailable = false;
const listeners = new Set();
let markReady;
let ready = new Promise((resolve) => { markReady = resolve; });
const channel = 'BroadcastChannel' in window ? new BroadcastChannel('utter_tasks') : null;

export function isActive(task) {
  return Boolean(task) && ACTIVE.has(task.status);
}

export function getTasks() {
  return tasks;
}

export function getTask(id) {
  return tasks.find((task) => task.id === id) || null;
}

export function activeCount() {
  return tasks.filter(isActive).length;
}

// Resolves once the first list has arrived (or it is clear none will), so a page that
// resumes a task after a reload can tell "not started yet" from "not loaded yet".
export function tasksReady() {
  return ready;
}

export function onTasksChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit() {
  for (const fn of listeners) {
    try { fn(tasks); } catch (err) { console.warn('task listener failed', err); }
  }
}

// Seconds the task has run: the server's figure, advanced locally between polls.
export function elapsedSeconds(task) {
  if (!task) return 0;
  if (isActive(task)) {
    const base = Number(task.elapsed_seconds) || (Date.now() - Date.parse(task.created_at)) / 1000 || 0;
    return base + (Date.now() - fetchedAt) / 1000;
  }
  if (task.elapsed_seconds !== null && task.elapsed_seconds !== undefined) return Number(task.elapsed_seconds);
  if (task.completed_at && task.created_at) return (Date.parse(task.completed_at) - Date.parse(task.created_at)) / 1000;
  return 0;
}

export function statusText(task) {
  switch (task.status) {
    case 'pending': return 'Waiting to start…';
    case 'processing':
      if (task.chunks_total) return `${task.type === 'generate' ? 'Generating' : 'Working'}… ${task.chunks_done || 0}/${task.chunks_total}`;
      return task.type === 'generate' ? 'Generating…' : 'Designing…';
    case 'completed': return 'Ready';
    case 'failed': return 'Failed';
    case 'cancelled': return 'Cancelled';
    default: return 'Processing…';
  }
}

export function describe(task) {
  const meta = task.metadata || {};
  if (task.type === 'generate') return `Generate: ${meta.text_preview || meta.voice_name || 'speech'}`;
  if (task.type === 'design_preview') return `Design: ${meta.name || meta.instruct || 'voice preview'}`;
  return 'Clone';
}

export function originPage(task) {
  if (task.type === 'generate') return '/generate';
  if (task.type === 'design_preview') return '/design';
  return '/clone';
}

// Shown again, the dock asks at once, after any poll still under way, so what it shows
// is as new as the moment someone looks.
const poller = repeater(() => poll(), { whenShown: () => { if (running) refreshTasks(); } });

function schedule(ms) {
  if (running) poller.later(ms);
  else poller.cancel();
}

async function poll() {
  if (!running || !isSignedIn() || unavailable) {
    markReady();
    return null;
  }
  if (inFlight) return inFlight;
  inFlight = (async () => {
    let next = IDLE_MS;
    try {
      const body = await api('/api/tasks');
      tasks = Array.isArray(body && body.tasks) ? body.tasks : [];
      fetchedAt = Date.now();
      emit();
      if (tasks.some(isActive)) next = FAST_MS;
    } catch (err) {
      if (err.status === 404) {
        // A server without the tasks route: stop asking rather than fail every second.
        unavailable = true;
        return;
      }
      if (err.status === 401) return; // signed out; the auth listener stops us
      next = 5000;
    } finally {
      inFlight = null;
      markReady();
    }
    schedule(next);
  })();
  return inFlight;
}

// Fetch now (after starting, cancelling or dismissing), and tell the other tabs.
export async function refreshTasks({ broadcast = false } = {}) {
  if (broadcast && channel) channel.postMessage('changed');
  if (inFlight) await inFlight;
  return poll();
}

export async function cancelTask(id) {
  await api(`/api/tasks/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
  await refreshTasks({ broadcast: true });
}

export async function dismissTask(id) {
  await api(`/api/tasks/${encodeURIComponent(id)}`, { method: 'DELETE' });
  tasks = tasks.filter((task) => task.id !== id);
  emit();
  await refreshTasks({ broadcast: true });
}

function startPolling() {
  if (running) return;
  running = true;
  poll();
}

function stopPolling() {
  running = false;
  poller.cancel();
  // Whoever waits for the old list is answered (with none) rather than left hanging.
  markReady();
  ready = new Promise((resolve) => { markReady = resolve; });
  tasks = [];
  emit();
}

// ---- the dock -------------------------------------------------------------------

let dock;
let list;
let toggle;
let summary;
let errorLine;
let rows;

// Folded to its header until the user opens it on a phone, where it would cover the page.
function collapsed() {
  let stored = null;
  try { stored = localStorage.getItem(COLLAPSE_KEY); } catch { /* no storage */ }
  if (stored === '1' || stored === '0') return stored === '1';
  return window.matchMedia('(max-width: 600px)').matches;
}

function setCollapsed(value) {
  try { localStorage.setItem(COLLAPSE_KEY, value ? '1' : '0'); } catch { /* not persisted */ }
  renderDock();
}

function icon(task) {
  const glyph = { generate: '▶', design_preview: '✦', clone: '●' }[task.type] || '•';
  return h('span', { class: 'dock-icon', 'aria-hidden': 'true' }, glyph);
}

// What a row is drawn from. A running task's status, progress and clock are moved on in
// place, so its row (and a Cancel button with focus) is kept until the task ends.
function rowSignature(task) {
  return `${isActive(task) ? 'active' : task.status}:${signatureOf(task, ['type', 'metadata'])}`;
}

function row(task) {
  const active = isActive(task);
  const action = active
    ? h('button', {
      type: 'button', class: 'button button-small', dataset: { action: 'cancel' },
      'aria-label': `Cancel ${describe(task)}`,
      onclick: async (event) => {
        const button = event.currentTarget;
        button.disabled = true;
        try { await cancelTask(task.id); } catch (err) { showError(plainWords(err)); button.disabled = false; }
      },
    }, 'Cancel')
    : h('button', {
      type: 'button', class: 'icon-button', dataset: { action: 'dismiss' },
      'aria-label': `Dismiss ${describe(task)}`,
      onclick: async (event) => {
        const button = event.currentTarget;
        button.disabled = true;
        try { await dismissTask(task.id); } catch (err) { showError(plainWords(err)); button.disabled = false; }
      },
    }, '×');
  const progress = active ? h('progress', { class: 'dock-progress', 'aria-hidden': 'true' }) : null;
  const status = h('span', { class: 'dock-status' });
  const el = h('li', { dataset: { taskId: task.id } },
    h('a', { href: originPage(task), class: 'dock-main' },
      icon(task),
      h('span', { class: 'dock-text' },
        h('span', { class: 'dock-title' }, truncate(describe(task), 32)),
        status),
      progress),
    action);
  const showStatus = (current) => {
    el.className = `dock-row is-${current.status}`;
    el.dataset.status = current.status;
    status.textContent = isActive(current) ? `${statusText(current)} · ${formatClock(elapsedSeconds(current))}` : statusText(current);
    if (!progress) return;
    progress.hidden = !current.chunks_total;
    if (current.chunks_total) {
      progress.max = current.chunks_total;
      progress.value = current.chunks_done || 0;
    }
  };
  showStatus(task);
  return { el, showStatus };
}

function showError(message) {
  errorLine.textContent = message;
  errorLine.hidden = false;
  setTimeout(() => { errorLine.hidden = true; }, 6000);
}

function renderDock() {
  if (!dock) return;
  const visible = tasks.slice(0, DOCK_LIMIT);
  dock.hidden = visible.length === 0;
  if (dock.hidden) return;
  const n = activeCount();
  const isCollapsed = collapsed();
  summary.textContent = n ? `${n} running` : `${tasks.length} recent`;
  toggle.setAttribute('aria-expanded', String(!isCollapsed));
  list.hidden = isCollapsed;
  rows.update(visible);
  for (const task of visible) rows.get(task.id).showStatus(task);
}

function tick() {
  clearInterval(tickTimer);
  if (tasks.some(isActive)) tickTimer = setInterval(() => { if (!isHidden()) renderDock(); }, 1000);
}

export function initTasks() {
  dock = document.getElementById('task-dock');
  dock.className = 'task-dock';
  dock.setAttribute('role', 'region');
  dock.setAttribute('aria-label', 'Tasks');
  summary = h('span', { class: 'dock-summary' });
  toggle = h('button', {
    type: 'button', class: 'dock-toggle', 'aria-controls': 'task-dock-list',
    onclick: () => setCollapsed(!collapsed()),
  }, h('span', { class: 'dock-heading' }, 'Tasks'), summary);
  list = h('ul', { class: 'dock-list', id: 'task-dock-list' });
  rows = keyedRows(list, { signature: rowSignature, draw: row });
  errorLine = h('p', { class: 'dock-error', role: 'alert', hidden: true });
  replace(dock, toggle, errorLine, list);
  dock.hidden = true;
  // Keep the end of the page reachable above the dock, however tall it is.
  new ResizeObserver(() => {
    document.body.style.paddingBottom = dock.hidden ? '' : `${Math.max(88, dock.offsetHeight + 32)}px`;
  }).observe(dock);

  onTasksChange(() => { renderDock(); tick(); });
  onAuthChange((event) => {
    if (event === 'SIGNED_OUT') stopPolling();
    else if (event === 'SIGNED_IN') { unavailable = false; startPolling(); }
  });
  if (channel) channel.addEventListener('message', () => { if (running) poll(); });
  window.addEventListener('storage', (event) => { if (event.key === COLLAPSE_KEY) renderDock(); });
  if (isSignedIn()) startPolling();
}
