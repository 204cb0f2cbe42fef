// The application shell: who is logged in, and which page the route table
// shows for the address.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { onUnauthorized, setToken, token } from './api/http';
import { logout as endSession, me } from './api/auth';
import type { User, Workspace } from './api/types';
import { idePath, matchRoute, navigate, Route, useLocation } from './router';
import { Login } from './pages/login';
import { Dashboard } from './pages/dashboard';
import { QuickSwitcher } from './components/quick-switcher';

/// What every page gets from the shell.
interface PageArgs {
  params: Record<string, string>;
  url: URL;
  user: User;
  onLogin: (u: User) => void;
  onLogout: () => void;
  onSwitch: () => void;
}

interface Page {
  render: (a: PageArgs) => JSX.Element;
  /// Starts loading the page's code as soon as its address is known.
  preload?: () => void;
}

// The IDE (Monaco, xterm) loads only when a workspace is opened, so the
// login page and dashboard stay small.
let ideLoading: Promise<typeof import('./pages/ide')> | null = null;
let ideModule: typeof import('./pages/ide') | null = null;
const loadIde = () =>
  (ideLoading ??= import('./pages/ide').then((m) => {
    ideModule = m;
    return m;
  }));

function LazyIde(props: { id: string; file: string | null; user: User; onSwitch: () => void }) {
  const [ide, setIde] = useState(ideModule);
  useEffect(() => {
    if (!ide) loadIde().then(setIde);
  }, [ide]);
  return ide ? <ide.Ide {...props} /> : <div class="center muted">Loading the IDE…</div>;
}

/// The first match wins; anything unknown shows the dashboard.
const routes: Route<Page>[] = [
  { pattern: '/login', page: { render: (a) => <Login onLogin={a.onLogin} /> } },
  {
    pattern: '/w/:id/*',
    page: {
      render: (a) => <LazyIde id={a.params.id} file={a.url.searchParams.get('file')} user={a.user} onSwitch={a.onSwitch} />,
      preload: loadIde,
    },
  },
  { pattern: '*', page: { render: (a) => <Dashboard user={a.user} onLogout={a.onLogout} onSwitch={a.onSwitch} /> } },
];

export function App() {
  const loc = useLocation();
  const [user, setUser] = useState<User | null>(null);
  const [checked, setChecked] = useState(false);
  const [switcher, setSwitcher] = useState(false);
  const { page, params } = matchRoute(routes, loc.pathname)!;
  useEffect(() => {
    page.preload?.();
  }, [page]);

  useEffect(() => {
    const stop = onUnauthorized(() => {
      setToken(null);
      setUser(null);
      if (location.pathname !== '/login') navigate('/login?next=' + encodeURIComponent(location.pathname + location.search), true);
    });
    if (token()) {
      me()
        .then(setUser)
        .catch(() => setUser(null))
        .finally(() => setChecked(true));
    } else {
      setChecked(true);
    }
    return stop;
  }, []);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      // Ctrl/Cmd+Shift+K: jump to another workspace from anywhere.
      if ((e.ctrlKey || e.metaKey) && e.shiftKey && e.key.toLowerCase() === 'k') {
        e.preventDefault();
        setSwitcher(true);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  if (!checked) return <div class="center muted">Loading…</div>;
  const onLogin = (u: User) => {
    setUser(u);
    navigate(new URLSearchParams(location.search).get('next') || '/', true);
  };
  // Signed out, every address shows the login page (and stays as it is).
  if (!user) return <Login onLogin={onLogin} />;
  const onLogout = async () => {
    try {
      await endSession();
    } catch {
      /* the token may already be gone */
    }
    setToken(null);
    setUser(null);
    navigate('/login', true);
  };
  return (
    <>
      {page.render({ params, url: loc, user, onLogin, onLogout, onSwitch: () => setSwitcher(true) })}
      {switcher && (
        <QuickSwitcher
          onClose={() => setSwitcher(false)}
          onPick={(w: Workspace) => {
            setSwitcher(false);
            navigate(idePath(w.id));
          }}
        />
      )}
    </>
  );
}
