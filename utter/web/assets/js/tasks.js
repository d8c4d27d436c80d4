// The task manager: the user's background tasks as the server lists them
// (GET /api/tasks: active ones and those finished in the last day), polled every
// second while anything runs and every few seconds otherwise. Because the list comes
// from the server, it survives reloads and is the same in every tab and on every device;
// tabs also nudge each other over a BroadcastChannel when they start or cancel a task,
// so the others need not wait for their next poll.
//
// The dock (bottom right) shows the most recent tasks with progress, Cancel and Dismiss.

import { api } from './api.js';
import { isSignedIn, onAuthChange } from './auth.js';
import { formatClock, h, replace, truncate } from './dom.js';

const ACTIVE = new Set(['pending', 'processing']);
const FAST_MS = 1000;
const IDLE_MS = 8000;
const HIDDEN_MS = 30000;
const DOCK_LIMIT = 5;
const COLLAPSE_KEY = 'utter_dock_collapsed';

let tasks = [];
let fetchedAt = 0;
let pollTimer = null;
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

function schedule(ms) {
  clearTimeout(pollTimer);
  if (!running) return;
  pollTimer = setTimeout(poll, ms);
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
    if (document.hidden && next !== FAST_MS) next = HIDDEN_MS;
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
  clearTimeout(pollTimer);
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

function row(task) {
  const active = isActive(task);
  const status = active ? `${statusText(task)} · ${formatClock(elapsedSeconds(task))}` : statusText(task);
  const action = active
    ? h('button', {
      type: 'button', class: 'button button-small', dataset: { action: 'cancel' },
      'aria-label': `Cancel ${describe(task)}`,
      onclick: async (event) => {
        event.currentTarget.disabled = true;
        try { await cancelTask(task.id); } catch (err) { showError(err.detail || err.message); }
      },
    }, 'Cancel')
    : h('button', {
      type: 'button', class: 'icon-button', dataset: { action: 'dismiss' },
      'aria-label': `Dismiss ${describe(task)}`,
      onclick: async (event) => {
        event.currentTarget.disabled = true;
        try { await dismissTask(task.id); } catch (err) { showError(err.detail || err.message); }
      },
    }, '×');
  const progress = active && task.chunks_total
    ? h('progress', { class: 'dock-progress', max: task.chunks_total, value: task.chunks_done || 0, 'aria-hidden': 'true' })
    : null;
  return h('li', { class: `dock-row is-${task.status}`, dataset: { taskId: task.id, status: task.status } },
    h('a', { href: originPage(task), class: 'dock-main' },
      icon(task),
      h('span', { class: 'dock-text' },
        h('span', { class: 'dock-title' }, truncate(describe(task), 32)),
        h('span', { class: 'dock-status' }, status)),
      progress),
    action);
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
  // Rebuilding the rows would steal focus from a button the user is on; keep it.
  const focusedAction = document.activeElement && dock.contains(document.activeElement)
    ? [document.activeElement.closest('[data-task-id]')?.dataset.taskId, document.activeElement.dataset.action]
    : null;
  replace(list, visible.map(row));
  if (focusedAction && focusedAction[0]) {
    const again = list.querySelector(`[data-task-id="${CSS.escape(focusedAction[0])}"] ${focusedAction[1] ? `[data-action="${focusedAction[1]}"]` : 'a'}`);
    if (again) again.focus();
  }
}

function tick() {
  clearInterval(tickTimer);
  if (tasks.some(isActive)) tickTimer = setInterval(renderDock, 1000);
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
  document.addEventListener('visibilitychange', () => { if (!document.hidden && running) poll(); });
  window.addEventListener('storage', (event) => { if (event.key === COLLAPSE_KEY) renderDock(); });
  if (isSignedIn()) startPolling();
}
