// A refresh that repeats at the pace its caller asks while the tab is visible, no more
// often than every HIDDEN_MS while the tab is hidden (nobody is looking, and every poll
// costs the server a query), and at once when the tab is shown again.

export const HIDDEN_MS = 30000;

export function isHidden() {
  return document.visibilityState === 'hidden';
}

// `run` is called when a refresh is due; it asks for the next one with later(ms). When the
// tab is shown again, a refresh that was due runs at once; with `whenShown`, that runs
// instead, due or not (for a list that must be current whenever someone looks).
export function repeater(run, { hiddenMs = HIDDEN_MS, whenShown = null } = {}) {
  let timer = null;
  let wanted = null; // the visible-tab delay of the refresh that is due, or null
  let askedAt = 0;
  let stopped = false;

  function arm() {
    clearTimeout(timer);
    timer = null;
    if (wanted === null || stopped) return;
    const delay = isHidden() ? Math.max(wanted, hiddenMs) : wanted;
    timer = setTimeout(fire, Math.max(0, askedAt + delay - Date.now()));
  }

  function fire() {
    clearTimeout(timer);
    timer = null;
    wanted = null;
    if (!stopped) run();
  }

  function onVisibility() {
    if (stopped) return;
    if (isHidden()) {
      arm();
    } else if (whenShown) {
      wanted = null;
      arm();
      whenShown();
    } else if (wanted !== null) {
      fire();
    }
  }
  document.addEventListener('visibilitychange', onVisibility);

  return {
    later(ms) {
      wanted = ms;
      askedAt = Date.now();
      arm();
    },
    cancel() {
      wanted = null;
      arm();
    },
    stop() {
      stopped = true;
      wanted = null;
      arm();
      document.removeEventListener('visibilitychange', onVisibility);
    },
  };
}
