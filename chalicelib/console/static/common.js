// Pieces several pages share: the app list (for names and filters) and a polling loop.

import * as api from './api.js';

let appsCache = null;

export async function loadApps(force = false) {
  if (!appsCache || force) appsCache = (await api.all('/apps')).items;
  return appsCache;
}

export function forgetApps() {
  appsCache = null;
}

export function appName(apps, id) {
  const found = apps.find((a) => a.id === id);
  return found ? found.name : id;
}

// Call `tick` now and then every `intervalMs` after it settles, until the returned stop() is called.
// Paused while the tab is hidden.
export function poll(tick, intervalMs) {
  let timer = null;
  let stopped = false;
  const run = async () => {
    if (stopped) return;
    if (!document.hidden) {
      try {
        await tick();
      } catch {
        // the tick shows its own error; keep polling
      }
    }
    if (!stopped) timer = setTimeout(run, intervalMs);
  };
  timer = setTimeout(run, intervalMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
