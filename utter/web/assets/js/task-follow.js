// Following one background task from the page that started it (Generate, Design) to its
// end, on top of the task manager's list (tasks.js). The task id is kept in localStorage
// under the page's key, so a reload or another visit picks the task up where it was.
// While it runs, the page's card shows its progress (built once per task and then updated
// in place, so the Cancel button keeps focus); when it ends, the card says so once per
// task and status: the page draws a finished task's result, this draws a failure or a
// cancel.

import { readDraft, writeDraft } from './drafts.js';
import { formatClock, h, replace } from './dom.js';
import {
  cancelTask, elapsedSeconds, getTask, isActive, onTasksChange, refreshTasks, statusText, tasksReady,
} from './tasks.js';

// card: the element it all goes in, its heading's id titleId; words: { title (while the
// task runs), idle: [heading, words] with no task, failed: [heading, words when the task
// gave none], cancelled: words }; note(task): an optional line under the progress;
// message: a messageBox for a failed cancel. onDone(task) draws a completed task and may
// return what to destroy() when the card moves on (its player). live: an optional element
// shown under the progress while the task runs (the live playback's state); onCancel():
// called when Cancel is pressed, before the server is asked.
export function followTask({ key, type, card, titleId, words, note, message, onDone, live = null, onCancel = null }) {
  let taskId = readDraft(key);
  let ended = null;
  let view = null;
  let result = null;

  function clear() {
    if (result && result.destroy) result.destroy();
    result = null;
  }

  function buildView(task) {
    const cancel = h('button', { type: 'button', class: 'button' }, 'Cancel');
    cancel.addEventListener('click', async () => {
      cancel.disabled = true;
      if (onCancel) onCancel();
      try {
        await cancelTask(task.id);
      } catch (err) {
        message.error(err);
        cancel.disabled = false;
      }
    });
    const built = {
      taskId: task.id,
      status: h('p', { class: 'progress-status', role: 'status' }),
      bar: h('progress', { max: 1, 'aria-label': 'Progress' }),
      chunks: h('span', { dataset: { chunks: '' } }),
      elapsed: h('span', { dataset: { elapsed: '' } }),
    };
    const extra = note ? note(task) : null;
    replace(card,
      h('h2', { id: titleId }, words.title),
      built.status,
      built.bar,
      h('p', { class: 'progress-meta' }, built.chunks, ' · ', built.elapsed),
      extra ? h('p', { class: 'muted' }, extra) : null,
      live,
      h('div', { class: 'actions' }, cancel));
    return built;
  }

  function showProgress(task) {
    clear();
    if (!view || view.taskId !== task.id || !card.contains(view.status)) view = buildView(task);
    const total = task.chunks_total || 0;
    view.status.textContent = statusText(task);
    if (total) {
      view.bar.max = total;
      view.bar.value = task.chunks_done || 0;
      view.chunks.textContent = `Chunk ${task.chunks_done || 0} of ${total}`;
    } else {
      view.bar.removeAttribute('value');
      view.chunks.textContent = 'Preparing…';
    }
    view.elapsed.textContent = `${formatClock(elapsedSeconds(task))} elapsed`;
  }

  function update() {
    const task = taskId ? getTask(taskId) : null;
    if (task && isActive(task)) {
      ended = null;
      showProgress(task);
      return;
    }
    view = null;
    if (!task) {
      ended = null;
      clear();
      replace(card, h('h2', { id: titleId }, words.idle[0]), h('p', { class: 'muted' }, words.idle[1]));
      return;
    }
    const mark = `${task.id}:${task.status}`;
    if (ended === mark) return;
    ended = mark;
    clear();
    if (task.status === 'failed') {
      replace(card,
        h('h2', { id: titleId }, words.failed[0]),
        h('p', { class: 'message message-error', role: 'alert' }, task.error || words.failed[1]));
    } else if (task.status === 'cancelled') {
      replace(card,
        h('h2', { id: titleId }, 'Cancelled'),
        h('p', { class: 'message message-info', role: 'status' }, words.cancelled));
    } else if (task.status === 'completed' && task.result && task.result.audio_url) {
      result = onDone(task) || null;
    }
  }

  const offTasks = onTasksChange(update);
  // The elapsed time moves on between polls.
  const tick = setInterval(() => {
    const task = taskId ? getTask(taskId) : null;
    if (task && isActive(task)) showProgress(task);
  }, 1000);

  return {
    get id() { return taskId; },

    // Starts a task with `post()` (which resolves to the API's `{task_id}`) and follows it.
    async start(post) {
      const started = await post();
      taskId = started.task_id;
      writeDraft(key, taskId);
      ended = null;
      showProgress({ id: taskId, type, status: 'pending', metadata: {}, created_at: new Date().toISOString() });
      await refreshTasks({ broadcast: true });
      update();
      return started;
    },

    // Shows what there is once the first task list has arrived; a task that is gone
    // (dismissed, or more than a day old) is forgotten.
    async resume() {
      await tasksReady();
      if (taskId && !getTask(taskId)) {
        writeDraft(key, null);
        taskId = null;
      }
      update();
    },

    destroy() {
      offTasks();
      clearInterval(tick);
      clear();
    },
  };
}
