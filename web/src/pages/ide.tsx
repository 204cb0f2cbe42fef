// The workspace IDE: file tree, tabbed editor, terminals, AI panel, status.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, errorMessage } from '../api/http';
import { authorizePreview, openPreview, portShares, setPortShare } from '../api/previews';
import { getDevcontainer, getWorkspace, keepAlive, noteActivity, startWorkspace, watchPorts } from '../api/workspaces';
import { readText, writeText } from '../api/files';
import type { Devcontainer, ListeningPort, ShareLevel, User, Workspace } from '../api/types';
import { DevcontainerStatus } from '../components/devcontainer';
import { SetupHistory } from '../components/setups';
import { idePath, navigate, rememberWorkspace } from '../router';
import { FileTree } from '../components/file-tree';
import { EditorArea, OpenFile } from '../components/editor';
import { Terminals } from '../components/terminals';
import { AiPanel } from '../components/ai-panel';
import { isAdmin } from '../roles';

export function Ide({ id, file, user, onSwitch }: { id: string; file: string | null; user: User; onSwitch: () => void }) {
  const [w, setW] = useState<Workspace | null>(null);
  const [error, setError] = useState('');
  const [online, setOnline] = useState(true);
  const [files, setFiles] = useState<OpenFile[]>([]);
  const [active, setActive] = useState<string | null>(null);
  const [panelHeight, setPanelHeight] = useState(260);
  const [aiOpen, setAiOpen] = useState(true);
  const [ports, setPorts] = useState<ListeningPort[]>([]);
  const [dc, setDc] = useState<Devcontainer | null>(null);
  const [rebuilding, setRebuilding] = useState(false);
  // The port shown in the preview panel, if any.
  const [previewPort, setPreviewPort] = useState<number | null>(null);
  const filesRef = useRef(files);
  filesRef.current = files;
  // Opening a stopped workspace starts it (once: a failed start is shown,
  // not retried in a loop).
  const autoStarted = useRef(false);
  // Typing in the editor is activity the server cannot see until a save:
  // told at most once a minute.
  const lastTyping = useRef(0);
  const typed = () => {
    const now = Date.now();
    if (now - lastTyping.current < 60_000) return;
    lastTyping.current = now;
    noteActivity(id).catch(() => {});
  };

  // The workspace's state, and whether the server answers at all.
  useEffect(() => {
    let stop = false;
    const poll = async () => {
      try {
        const x = await getWorkspace(id);
        if (stop) return;
        if (x.state === 'stopped' && !autoStarted.current) {
          autoStarted.current = true;
          startWorkspace(id)
            .then((started) => !stop && setW(started))
            .catch((e) => setError(e instanceof ApiError ? e.message : String(e)));
        }
        setW(x);
        setOnline(true);
        if (x.state !== 'running') setPorts([]);
        rememberWorkspace(x.id);
      } catch (e) {
        if (stop) return;
        if (e instanceof ApiError && e.status === 0) setOnline(false);
        else if (e instanceof ApiError) setError(e.message);
      }
    };
    poll();
    const t = setInterval(poll, 3000);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [id]);

  // Ports arrive as they change while it runs (the agent reads the
  // kernel's socket tables and sends only changes), so a server started in
  // a terminal shows up within a fraction of a second. A dropped stream is
  // opened again; the last list stays until then.
  const portsLive = w?.state === 'running' && !rebuilding;
  useEffect(() => {
    if (!portsLive) return;
    const ctrl = new AbortController();
    let retry: ReturnType<typeof setTimeout>;
    const watch = () =>
      watchPorts(id, ctrl.signal, (p) => setPorts((old) => (JSON.stringify(old) === JSON.stringify(p) ? old : p)))
        .catch(() => {})
        .finally(() => {
          if (!ctrl.signal.aborted) retry = setTimeout(watch, 1000);
        });
    watch();
    return () => {
      ctrl.abort();
      clearTimeout(retry);
    };
  }, [id, portsLive]);

  // The devcontainer.json applied (none: 404), read again when the
  // workspace's image changes (a rebuild).
  const image = w?.image;
  useEffect(() => {
    if (!image) return;
    getDevcontainer(id)
      .then(setDc)
      .catch(() => setDc(null));
  }, [id, image]);

  const openFile = useCallback(
    async (path: string) => {
      const existing = filesRef.current.find((f) => f.path === path);
      if (existing) {
        setActive(path);
        return;
      }
      try {
        const { text, etag } = await readText(id, path);
        setFiles((fs) => [...fs, { path, content: text, saved: text, etag, conflict: false }]);
        setActive(path);
      } catch (e) {
        setError(e instanceof ApiError ? e.message : String(e));
      }
    },
    [id],
  );

  // Deep link: /w/<id>?file=<path> opens that file, once the workspace
  // runs (opening a stopped one starts it first).
  // The URL is rewritten to the active file meanwhile, so the wanted one
  // is kept aside until then.
  const wanted = useRef(file);
  useEffect(() => {
    if (file) wanted.current = file;
  }, [file]);
  const isRunning = w?.state === 'running';
  useEffect(() => {
    const path = wanted.current;
    if (path && isRunning) {
      wanted.current = null;
      openFile(path);
    }
  }, [file, openFile, isRunning]);
  useEffect(() => {
    const url = idePath(id, active);
    if (location.pathname + location.search !== url) navigate(url, true);
  }, [active, id]);

  const save = async (path: string, force = false) => {
    const f = filesRef.current.find((x) => x.path === path);
    if (!f) return;
    try {
      const meta = await writeText(id, path, f.content, { ifMatch: force ? undefined : f.etag });
      setFiles((fs) => fs.map((x) => (x.path === path ? { ...x, saved: f.content, etag: meta.etag, conflict: false } : x)));
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) {
        setFiles((fs) => fs.map((x) => (x.path === path ? { ...x, conflict: true } : x)));
      } else {
        setError(e instanceof ApiError ? e.message : String(e));
      }
    }
  };

  const reload = async (path: string) => {
    const { text, etag } = await readText(id, path);
    setFiles((fs) => fs.map((x) => (x.path === path ? { ...x, content: text, saved: text, etag, conflict: false, version: (x.version || 0) + 1 } : x)));
  };

  const close = (path: string) => {
    const f = filesRef.current.find((x) => x.path === path);
    if (f && f.content !== f.saved && !confirm(`${path} has unsaved changes. Close anyway?`)) return;
    const rest = filesRef.current.filter((x) => x.path !== path);
    setFiles(rest);
    if (active === path) setActive(rest.length ? rest[rest.length - 1].path : null);
  };

  const startDrag = (e: MouseEvent) => {
    e.preventDefault();
    const startY = e.clientY;
    const startH = panelHeight;
    const move = (m: MouseEvent) => setPanelHeight(Math.max(80, Math.min(window.innerHeight - 160, startH - (m.clientY - startY))));
    const up = () => {
      window.removeEventListener('mousemove', move);
      window.removeEventListener('mouseup', up);
    };
    window.addEventListener('mousemove', move);
    window.addEventListener('mouseup', up);
  };

  // A rebuild makes the container again (the server says `starting`
  // meanwhile): the IDE stays as it is, with the rebuild's dialog, instead
  // of turning into the start page; terminals reconnect and the file tree
  // reads again when it ends.
  const running = w?.state === 'running' || rebuilding;
  return (
    <div class="ide">
      <header class="topbar">
        <a class="brand" href="/" onClick={(e) => (e.preventDefault(), navigate('/'))}>
          <span class="logo">▲</span> AiCockpit
        </a>
        <span class="crumb">/</span>
        <button class="ghost ws-switch" onClick={onSwitch} title="Switch workspace (Ctrl+Shift+K)">
          {w?.name || id}
        </button>
        <span class="spacer" />
        <a
          class="ghost-link"
          href={`/policy/${encodeURIComponent(id)}`}
          title="What the agent may do here"
          onClick={(e) => (e.preventDefault(), navigate(`/policy/${encodeURIComponent(id)}`))}
        >
          Agent policy
        </a>
        <button class="ghost" onClick={() => setAiOpen((o) => !o)}>
          {aiOpen ? 'Hide AI' : 'AI'}
        </button>
      </header>
      {error && (
        <div class="error banner" role="alert" onClick={() => setError('')}>
          {error} <span class="muted">(click to dismiss)</span>
        </div>
      )}
      {w && !running ? (
        <div class="center">
          <p>
            This workspace is <b>{w.state}</b>. {w.state_reason}
          </p>
          <button class="primary" onClick={() => startWorkspace(id).catch((e) => setError(e.message))}>
            Start it
          </button>
        </div>
      ) : (
        <div class="ide-body">
          <aside class="sidebar">
            {running && <FileTree id={id} live={!rebuilding} onOpen={openFile} onError={setError} activePath={active} />}
          </aside>
          <section class="main-col">
            <div class="editor-wrap">
              <EditorArea
                files={files}
                active={active}
                onActivate={setActive}
                onChange={(path, content) => {
                  typed();
                  setFiles((fs) => fs.map((x) => (x.path === path ? { ...x, content } : x)));
                }}
                onSave={save}
                onClose={close}
                onReload={reload}
              />
            </div>
            <div class="splitter" onMouseDown={startDrag} title="Drag to resize" />
            <div class="panel" style={{ height: `${panelHeight}px` }}>
              {running && <Terminals id={id} onError={setError} />}
            </div>
          </section>
          {previewPort !== null && running && <PreviewPanel id={id} port={previewPort} onClose={() => setPreviewPort(null)} />}
          {aiOpen && running && (
            <aside class="ai-panel">
              <AiPanel
                id={id}
                admin={isAdmin(user)}
                activeFile={() => {
                  const f = filesRef.current.find((x) => x.path === active);
                  return f ? { path: f.path, text: f.content } : null;
                }}
                onInsert={(code) => {
                  const f = filesRef.current.find((x) => x.path === active);
                  if (f) setFiles((fs) => fs.map((x) => (x.path === f.path ? { ...x, content: x.content + code, version: (x.version || 0) + 1 } : x)));
                }}
              />
            </aside>
          )}
        </div>
      )}
      <footer class="statusbar">
        <span class={`dot ${online ? 'ok' : 'bad'}`} /> {online ? 'Connected' : 'Reconnecting…'}
        <span class="sep" />
        <span data-testid="ws-state">{w ? w.state : '…'}</span>
        {w && (
          <>
            <span class="sep" />
            <span>
              {w.limits.cpus} CPU · {w.limits.memory_mb} MiB
            </span>
            <span class="sep" />
            <span>{w.template || w.image}</span>
          </>
        )}
        <span class="spacer" />
        {w && <PortNotices id={w.id} ports={ports} attributes={dc?.ports_attributes ?? []} onPanel={setPreviewPort} />}
        {w && (ports.length > 0 || (dc?.forward_ports.length ?? 0) > 0) && (
          <Ports id={w.id} name={w.owner_id === user.id ? w.name : w.id} ports={ports} forwarded={dc?.forward_ports ?? []} attributes={dc?.ports_attributes ?? []} onPanel={setPreviewPort} />
        )}
        {w && <SetupHistory id={w.id} version={`${w.state}:${w.image}:${rebuilding}`} />}
        {w && (running || w.state === 'error') && <DevcontainerStatus id={w.id} dc={dc} onRebuilt={setW} onBusy={setRebuilding} />}
        {w?.idle && <IdleStatus w={w} onKeep={(x) => setW(x)} onError={setError} />}
        {active && <span>{active}</span>}
      </footer>
    </div>
  );
}

/// When the workspace will stop for inactivity, and a way to keep it.
function IdleStatus({ w, onKeep, onError }: { w: Workspace; onKeep: (w: Workspace) => void; onError: (m: string) => void }) {
  const idle = w.idle;
  if (!idle) return null;
  const keep = () =>
    keepAlive(w.id, { for_secs: 3600, reason: 'kept running from the IDE' })
      .then(onKeep)
      .catch((e) => onError(e instanceof ApiError ? e.message : String(e)));
  let text: string;
  if (idle.busy.length) text = `busy (${idle.busy.join(', ').replace('agent_run', 'AI agent run')})`;
  else if (idle.keep_alive) text = `kept running until ${new Date(idle.keep_alive.until).toLocaleTimeString()}`;
  else if (idle.stop_at) text = `stops at ${new Date(idle.stop_at).toLocaleTimeString()} if idle`;
  else text = 'never stops for idleness';
  const soon = !!idle.stop_at && !idle.keep_alive && new Date(idle.stop_at).getTime() - Date.now() < 15 * 60_000;
  return (
    <span data-testid="idle" class={soon ? 'warn' : ''}>
      {text}
      {idle.stop_at && (
        <button class="ghost small" onClick={keep} title="Keep it running for an hour">
          Keep running
        </button>
      )}
      <span class="sep" />
    </span>
  );
}

/// A port's preview beside the editor: an iframe of the preview's own
/// origin, logged in there by a one-use link (its session cookie is kept
/// only under this app as top-level site), with reload and "open in a new
/// tab".
function PreviewPanel({ id, port, onClose }: { id: string; port: number; onClose: () => void }) {
  const [src, setSrc] = useState<string | null>(null);
  const [address, setAddress] = useState('');
  const [problem, setProblem] = useState('');
  const load = useCallback(() => {
    setProblem('');
    authorizePreview({ workspace: id, port, next: '/', frame: true })
      .then((link) => {
        setAddress(link.preview_url);
        setSrc(link.url);
      })
      .catch((e) => setProblem(errorMessage(e)));
  }, [id, port]);
  useEffect(load, [load]);
  return (
    <aside class="preview-panel" data-testid="preview-panel">
      <div class="preview-bar">
        <span class="small mono grow" title={address}>
          {address || `port ${port}`}
        </span>
        <button class="ghost small" onClick={load} title="Reload">
          ⟳
        </button>
        <button class="ghost small" onClick={() => openPreview(id, port).catch((e) => setProblem(errorMessage(e)))}>
          Open in a new tab
        </button>
        <button class="ghost small" aria-label="Close the preview" onClick={onClose}>
          ×
        </button>
      </div>
      {problem && <div class="error small">{problem}</div>}
      {src && (
        // No top navigation: the previewed app cannot take the IDE's tab.
        <iframe
          key={src}
          title={`Preview of port ${port}`}
          src={src}
          referrerpolicy="no-referrer"
          sandbox="allow-scripts allow-same-origin allow-forms allow-popups allow-modals allow-downloads"
        />
      )}
    </aside>
  );
}

/// What happens when a port starts listening, by its devcontainer
/// `onAutoForward` (default `notify`): `openPreview` opens the preview
/// panel beside the editor (once per page, also for a port already
/// listening when the IDE opens, as a dev server started by
/// postStartCommand is); a notice with "Open preview" for `notify`,
/// `openBrowser` and `openBrowserOnce` (once per page) — a browser opens a
/// tab only on a click, so the notice is the way to it —; nothing for
/// `silent` and `ignore`. Other ports already listening when the IDE opens
/// are not announced.
function PortNotices({
  id,
  ports,
  attributes,
  onPanel,
}: {
  id: string;
  ports: ListeningPort[];
  attributes: Devcontainer['ports_attributes'];
  onPanel: (port: number) => void;
}) {
  const seen = useRef<Set<number> | null>(null);
  const announced = useRef(new Set<number>());
  const [notices, setNotices] = useState<{ port: number; label: string | null }[]>([]);
  const [problem, setProblem] = useState('');
  useEffect(() => {
    const now = new Set(ports.map((p) => p.port));
    const before = seen.current;
    seen.current = now;
    const previewed = ports.find(
      (p) => !before?.has(p.port) && !announced.current.has(p.port) && attributes.find((f) => f.port === p.port)?.on_auto_forward === 'openPreview',
    );
    if (previewed) {
      announced.current.add(previewed.port);
      onPanel(previewed.port);
    }
    if (before === null) return;
    const fresh = ports.filter((p) => !before.has(p.port));
    const shown = fresh.flatMap((p) => {
      const attrs = attributes.find((f) => f.port === p.port);
      const what = attrs?.on_auto_forward ?? 'notify';
      if (what === 'silent' || what === 'ignore' || what === 'openPreview') return [];
      if (what === 'openBrowserOnce' && announced.current.has(p.port)) return [];
      announced.current.add(p.port);
      return [{ port: p.port, label: attrs?.label ?? null }];
    });
    // A port that stopped listening takes its notice with it.
    setNotices((old) => [...old.filter((n) => now.has(n.port) && !shown.some((x) => x.port === n.port)), ...shown]);
  }, [ports, attributes]);
  if (notices.length === 0) return null;
  const dismiss = (port: number) => setNotices((old) => old.filter((n) => n.port !== port));
  return (
    <div class="port-notices" role="status" aria-live="polite">
      {notices.map((n) => (
        <div class="notice small card" data-testid={`port-notice-${n.port}`}>
          Port {n.port}
          {n.label ? ` (${n.label})` : ''} is listening.{' '}
          <button
            class="small primary"
            onClick={() => {
              openPreview(id, n.port).catch((e) => setProblem(errorMessage(e)));
              dismiss(n.port);
            }}
          >
            Open preview
          </button>{' '}
          <button class="ghost small" aria-label={`Dismiss the notice of port ${n.port}`} onClick={() => dismiss(n.port)}>
            ×
          </button>
          {problem && <span class="error"> {problem}</span>}
        </div>
      ))}
    </div>
  );
}

/// Ports something in the workspace listens on: each opens its preview
/// (a tab of its own origin, logged in), says who may open it, and copies
/// the command that forwards it to the user's machine (`name` is what
/// that command calls the workspace: its id when it is someone else's, as
/// a name is looked up among the caller's own).
function Ports({
  id,
  name,
  ports,
  forwarded,
  attributes,
  onPanel,
}: {
  id: string;
  name: string;
  ports: ListeningPort[];
  forwarded: Devcontainer['forward_ports'];
  attributes: Devcontainer['ports_attributes'];
  onPanel: (port: number) => void;
}) {
  const [open, setOpen] = useState<number | null>(null);
  const [shares, setShares] = useState<Record<number, ShareLevel>>({});
  const [problem, setProblem] = useState('');
  useEffect(() => {
    portShares(id)
      .then((l) => setShares(Object.fromEntries(l.map((s) => [s.port, s.level as ShareLevel]))))
      .catch(() => {});
  }, [id, ports.length]);
  const share = async (port: number, level: ShareLevel) => {
    try {
      await setPortShare(id, port, level);
      setShares({ ...shares, [port]: level });
      setProblem('');
    } catch (e) {
      setProblem(errorMessage(e));
    }
  };
  return (
    <span data-testid="ports" class="ports">
      Ports:
      {[...ports, ...forwarded.filter((f) => !ports.some((p) => p.port === f.port)).map((f) => ({ port: f.port, process: null, loopback_only: false, waiting: true }))]
        // `onAutoForward: ignore`: not a port to show.
        .filter((p) => attributes.find((f) => f.port === p.port)?.on_auto_forward !== 'ignore')
        .map((p) => {
        const label = attributes.find((f) => f.port === p.port)?.label;
        const waiting = 'waiting' in p;
        const cmd = `aicockpit port-forward ${name} ${p.port}`;
        const level = shares[p.port] || 'private';
        return (
          <span class="port">
            <button
              data-testid={`port-${p.port}`}
              aria-expanded={open === p.port}
              class={waiting ? 'ghost small muted' : 'ghost small'}
              title={waiting ? 'Forwarded by devcontainer.json; nothing listens yet' : `${p.process ? p.process + ' listens' : 'Listening'}${p.loopback_only ? ' on the workspace loopback' : ''}`}
              onClick={() => setOpen(open === p.port ? null : p.port)}
            >
              {p.port}
              {label ? ` ${label}` : ''}
              {level !== 'private' ? ` (${level})` : ''}
            </button>
            {open === p.port && (
              <span class="port-menu card" role="menu">
                <button class="small" role="menuitem" onClick={() => openPreview(id, p.port).catch((e) => setProblem(errorMessage(e)))}>
                  Open preview
                </button>
                <button
                  class="small"
                  role="menuitem"
                  onClick={() => {
                    onPanel(p.port);
                    setOpen(null);
                  }}
                >
                  Preview in a panel
                </button>
                <label class="small">
                  Who may open it{' '}
                  <select value={level} onChange={(e) => share(p.port, e.currentTarget.value as ShareLevel)} aria-label={`Who may open port ${p.port}`}>
                    <option value="private">only people who can see this workspace</option>
                    <option value="authenticated">anyone logged in</option>
                    <option value="public">anyone with the link</option>
                  </select>
                </label>
                <button class="ghost small" role="menuitem" onClick={() => navigator.clipboard?.writeText(cmd).then(() => setOpen(null), () => {})} title={cmd}>
                  Copy port-forward command
                </button>
                {problem && <span class="error">{problem}</span>}
              </span>
            )}
          </span>
        );
      })}
      <span class="sep" />
    </span>
  );
}
