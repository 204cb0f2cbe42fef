// The header of the dashboard and the account and admin pages: the brand,
// links to every area (admin areas for admins only), the user and log out.
import type { ComponentChildren } from 'preact';
import type { User } from '../api/types';
import { navigate } from '../router';
import { isAdmin } from '../roles';

/// What every page under the header gets from the shell.
export interface PageProps {
  user: User;
  params: Record<string, string>;
  url: URL;
  onLogout: () => void;
  onSwitch: () => void;
}

const LINKS: { href: string; label: string; admin?: boolean }[] = [
  { href: '/', label: 'Workspaces' },
  { href: '/usage', label: 'Usage' },
  { href: '/audit', label: 'Audit' },
  { href: '/account', label: 'My account' },
  { href: '/admin/ai', label: 'AI services', admin: true },
  { href: '/admin/users', label: 'Users', admin: true },
  { href: '/policy', label: 'Policy', admin: true },
  { href: '/admin/system', label: 'System', admin: true },
];

/// An in-app link: a real `href` (middle click, copy) that navigates without a reload.
export function Link({ href, children, class: cls }: { href: string; children: ComponentChildren; class?: string }) {
  return (
    <a
      href={href}
      class={cls}
      onClick={(e) => {
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}

export function Nav({ user, onLogout, onSwitch }: { user: User; onLogout: () => void; onSwitch?: () => void }) {
  const here = location.pathname;
  const current = (href: string) => (href === '/' ? here === '/' : here === href || here.startsWith(href + '/'));
  return (
    <header class="topbar">
      <Link href="/" class="brand">
        <span class="logo">▲</span> AiCockpit
      </Link>
      <nav class="nav" aria-label="Main">
        {LINKS.filter((l) => !l.admin || isAdmin(user)).map((l) => (
          <Link href={l.href} class={current(l.href) ? 'current' : ''}>
            <span aria-current={current(l.href) ? 'page' : undefined}>{l.label}</span>
          </Link>
        ))}
      </nav>
      <span class="spacer" />
      {onSwitch && (
        <button class="ghost" onClick={onSwitch} title="Switch workspace (Ctrl+Shift+K)">
          Switch… <kbd>Ctrl+Shift+K</kbd>
        </button>
      )}
      <span class="muted" data-testid="whoami">
        {user.username}
      </span>
      <button class="ghost" onClick={onLogout}>
        Log out
      </button>
    </header>
  );
}

/// A page under the header: its title, what it is for, and its content.
export function Shell(props: { user: User; onLogout: () => void; onSwitch?: () => void; title: string; actions?: ComponentChildren; children: ComponentChildren }) {
  return (
    <div class="page scroll">
      <Nav user={props.user} onLogout={props.onLogout} onSwitch={props.onSwitch} />
      <main class="content">
        <div class="row page-title">
          <h2>{props.title}</h2>
          <span class="spacer" />
          {props.actions}
        </div>
        {props.children}
      </main>
    </div>
  );
}

/// What a member or viewer sees at an admin address.
export function AdminsOnly() {
  return (
    <div class="card empty" role="alert" data-testid="admins-only">
      <p>
        <b>Admins only.</b> This page is for administrators.
      </p>
      <Link href="/">Back to your workspaces</Link>
    </div>
  );
}
