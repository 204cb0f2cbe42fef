// The application shell: who is logged in, and which page to show.
import { useEffect, useState } from 'preact/hooks';
import { get, onUnauthorized, post, setToken, token, User, Workspace } from './api';
import { navigate, useLocation } from './router';
import { Login } from './pages/login';
import { Dashboard } from './pages/dashboard';
import { QuickSwitcher } from './components/quick-switcher';

export function App() {
  const loc = useLocation();
  const [user, setUser] = useState<User | null>(null);
  const [checked, setChecked] = useState(false);
  const [switcher, setSwitcher] = useState(false);
  // The IDE (Monaco, xterm) loads only when a workspace is opened, so the
  // login page and dashboard stay small.
  const [ide, setIde] = useState<typeof import('./pages/ide') | null>(null);
  const wantIde = /^\/w\//.test(loc.pathname);
  useEffect(() => {
    if (wantIde && !ide) import('./pages/ide').then(setIde);
  }, [wantIde, ide]);

  useEffect(() => {
    const stop = onUnauthorized(() => {
      setToken(null);
      setUser(null);
      if (location.pathname !== '/login') navigate('/login?next=' + encodeURIComponent(location.pathname + location.search), true);
    });
    if (token()) {
      get<User>('/api/v1/auth/me')
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
  if (!user || loc.pathname === '/login') {
    return (
      <Login
        onLogin={(u) => {
          setUser(u);
          navigate(new URLSearchParams(location.search).get('next') || '/', true);
        }}
      />
    );
  }
  const logout = async () => {
    try {
      await post('/api/v1/auth/logout');
    } catch {
      /* the token may already be gone */
    }
    setToken(null);
    setUser(null);
    navigate('/login', true);
  };
  const m = loc.pathname.match(/^\/w\/([^/]+)/);
  return (
    <>
      {m ? (
        ide ? (
          <ide.Ide id={decodeURIComponent(m[1])} file={loc.searchParams.get('file')} user={user} onSwitch={() => setSwitcher(true)} />
        ) : (
          <div class="center muted">Loading the IDE…</div>
        )
      ) : (
        <Dashboard user={user} onLogout={logout} onSwitch={() => setSwitcher(true)} />
      )}
      {switcher && (
        <QuickSwitcher
          onClose={() => setSwitcher(false)}
          onPick={(w: Workspace) => {
            setSwitcher(false);
            navigate(`/w/${w.id}`);
          }}
        />
      )}
    </>
  );
}
