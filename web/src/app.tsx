// The application shell: who is logged in, and which page the route table
// shows for the address.
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { onPasswordChangeRequired, onUnauthorized, setToken, token } from './api/http';
import { logout as endSession, me } from './api/auth';
import type { User, Workspace } from './api/types';
import { idePath, matchRoute, navigate, Route, useLocation } from './router';
import { Login } from './pages/login';
import { PreviewLogin } from './pages/preview';
import { Dashboard } from './pages/dashboard';
import { QuickSwitcher } from './components/quick-switcher';
import { AdminsOnly, PageProps, Shell } from './components/nav';
import { isAdmin } from './roles';

/// What every page gets from the shell.
interface PageArgs extends PageProps {
  onLogin: (u: User) => void;
}

interface Page {
  render: (a: PageArgs) => JSX.Element;
  /// Starts loading the page's code as soon as its address is known.
  preload?: () => void;
  /// Admins only: others see "admins only" (and the code is not loaded).
  admin?: boolean;
  /// The title shown while an admin page is refused.
  title?: string;
}

/// A module loaded on first use: the IDE (Monaco, xterm) and the account,
/// admin, audit and usage pages load only when opened, so the login page and
/// dashboard stay small.
function lazy<M>(load: () => Promise<M>, what: string) {
  let loading: Promise<M> | null = null;
  let mod: M | null = null;
  const get = () => (loading ??= load().then((m) => (mod = m)));
  function View({ render }: { render: (m: M) => JSX.Element }) {
    const [m, setM] = useState(mod);
    const [failed, setFailed] = useState(false);
    useEffect(() => {
      if (!m) get().then(setM, () => setFailed(true));
    }, [m]);
    if (failed) return <div class="center error">Could not load the {what}. Reload the page to try again.</div>;
    return m ? render(m) : <div class="center muted">Loading the {what}…</div>;
  }
  return { get, View };
}

const ide = lazy(() => import('./pages/ide'), 'IDE');
const aiPage = lazy(() => import('./pages/admin-ai'), 'AI services');
const usersPage = lazy(() => import('./pages/admin-users'), 'users');
const systemPage = lazy(() => import('./pages/system'), 'system page');
const accountPage = lazy(() => import('./pages/account'), 'account');
const policyPage = lazy(() => import('./pages/policy'), 'policy editor');
const auditPage = lazy(() => import('./pages/audit'), 'audit log');
const usagePage = lazy(() => import('./pages/usage'), 'usage');
const passwordPage = lazy(() => import('./pages/change-password'), 'password form');

/// The first match wins; anything unknown shows the dashboard.
const routes: Route<Page>[] = [
  { pattern: '/login', page: { render: (a) => <Login onLogin={a.onLogin} /> } },
  {
    pattern: '/w/:id/*',
    page: {
      render: (a) => (
        <ide.View render={(m) => <m.Ide id={a.params.id} file={a.url.searchParams.get('file')} user={a.user} onSwitch={a.onSwitch} />} />
      ),
      preload: ide.get,
    },
  },
  { pattern: '/admin/ai', page: { admin: true, title: 'AI services', preload: aiPage.get, render: (a) => <aiPage.View render={(m) => <m.AdminAi {...a} />} /> } },
  { pattern: '/admin/users', page: { admin: true, title: 'Users', preload: usersPage.get, render: (a) => <usersPage.View render={(m) => <m.AdminUsers {...a} />} /> } },
  { pattern: '/admin/system', page: { admin: true, title: 'System', preload: systemPage.get, render: (a) => <systemPage.View render={(m) => <m.SystemPage {...a} />} /> } },
  { pattern: '/admin/*', page: { admin: true, title: 'Administration', render: (a) => <Dashboard user={a.user} onLogout={a.onLogout} onSwitch={a.onSwitch} /> } },
  // The default policy for new workspaces is the admins'; a workspace's own
  // (`/policy/<workspace>`) is its owner's too.
  { pattern: '/policy', page: { admin: true, title: 'Default agent policy', preload: policyPage.get, render: (a) => <policyPage.View render={(m) => <m.PolicyPage {...a} />} /> } },
  { pattern: '/policy/:workspace', page: { preload: policyPage.get, render: (a) => <policyPage.View render={(m) => <m.PolicyPage {...a} />} /> } },
  { pattern: '/preview', page: { render: (a) => <PreviewLogin url={a.url} /> } },
  { pattern: '/account', page: { preload: accountPage.get, render: (a) => <accountPage.View render={(m) => <m.Account {...a} />} /> } },
  { pattern: '/audit', page: { preload: auditPage.get, render: (a) => <auditPage.View render={(m) => <m.AuditPage {...a} />} /> } },
  { pattern: '/usage', page: { preload: usagePage.get, render: (a) => <usagePage.View render={(m) => <m.UsagePage {...a} />} /> } },
  { pattern: '*', page: { render: (a) => <Dashboard user={a.user} onLogout={a.onLogout} onSwitch={a.onSwitch} /> } },
];

export function App() {
  const loc = useLocation();
  const [user, setUser] = useState<User | null>(null);
  const [checked, setChecked] = useState(false);
  const [switcher, setSwitcher] = useState(false);
  const { page, params } = matchRoute(routes, loc.pathname)!;
  const refused = !!page.admin && !!user && !isAdmin(user);
  useEffect(() => {
    if (user && !refused && !user.must_change_password) page.preload?.();
  }, [page, user, refused]);

  useEffect(() => {
    const stop = onUnauthorized(() => {
      setToken(null);
      setUser(null);
      if (location.pathname !== '/login') navigate('/login?next=' + encodeURIComponent(location.pathname + location.search), true);
    });
    const stopPw = onPasswordChangeRequired(() => setUser((u) => (u ? { ...u, must_change_password: true } : u)));
    if (token()) {
      me()
        .then(setUser)
        .catch(() => setUser(null))
        .finally(() => setChecked(true));
    } else {
      setChecked(true);
    }
    return () => {
      stop();
      stopPw();
    };
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
  // Until a new password is chosen the server refuses everything else.
  if (user.must_change_password) return <passwordPage.View render={(m) => <m.ChangePasswordScreen user={user} onDone={setUser} onLogout={onLogout} />} />;
  const args: PageArgs = { params, url: loc, user, onLogin, onLogout, onSwitch: () => setSwitcher(true) };
  return (
    <>
      {refused ? (
        <Shell user={user} onLogout={onLogout} onSwitch={args.onSwitch} title={page.title || 'Administration'}>
          <AdminsOnly />
        </Shell>
      ) : (
        page.render(args)
      )}
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
