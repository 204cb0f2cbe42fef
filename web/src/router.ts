// A tiny History-API router: the path is the state; pages are chosen from a
// route table (`/w/:id` patterns) rather than regexes.
import { useEffect, useState } from 'preact/hooks';

const listeners = new Set<() => void>();

export function navigate(to: string, replace = false) {
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  listeners.forEach((l) => l());
}

export function useLocation(): URL {
  const [, setTick] = useState(0);
  useEffect(() => {
    const l = () => setTick((t) => t + 1);
    listeners.add(l);
    window.addEventListener('popstate', l);
    return () => {
      listeners.delete(l);
      window.removeEventListener('popstate', l);
    };
  }, []);
  return new URL(location.href);
}

/// One entry of a route table. In `pattern`, `:name` matches one path
/// segment (decoded into `params.name`) and a final `*` any rest, even none.
export interface Route<P> {
  pattern: string;
  page: P;
}

export interface Match<P> {
  page: P;
  params: Record<string, string>;
}

const segments = (path: string) => path.split('/').filter(Boolean);

/// The params when `path` matches `pattern`, else null.
export function matchPath(pattern: string, path: string): Record<string, string> | null {
  const want = segments(pattern);
  const have = segments(path);
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    if (w === '*' && i === want.length - 1) return params;
    const h = have[i];
    if (h === undefined) return null;
    if (w.startsWith(':')) {
      try {
        params[w.slice(1)] = decodeURIComponent(h);
      } catch {
        return null;
      }
    } else if (w !== h) return null;
  }
  return have.length === want.length ? params : null;
}

/// The first route in the table that matches `path`.
export function matchRoute<P>(routes: Route<P>[], path: string): Match<P> | null {
  for (const r of routes) {
    const params = matchPath(r.pattern, path);
    if (params) return { page: r.page, params };
  }
  return null;
}

/// The IDE's address for a workspace (and the file open in it).
export const idePath = (id: string, file?: string | null) =>
  `/w/${encodeURIComponent(id)}${file ? '?' + new URLSearchParams({ file }).toString() : ''}`;

const RECENT_KEY = 'aicockpit.recent';

export function recentWorkspaces(): string[] {
  try {
    return JSON.parse(localStorage.getItem(RECENT_KEY) || '[]');
  } catch {
    return [];
  }
}

export function rememberWorkspace(id: string) {
  const list = [id, ...recentWorkspaces().filter((x) => x !== id)].slice(0, 8);
  localStorage.setItem(RECENT_KEY, JSON.stringify(list));
}
