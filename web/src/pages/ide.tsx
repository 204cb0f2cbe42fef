// The workspace IDE: file tree, tabbed editor, terminals, AI panel, status.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, errorMessage } from '../api/http';
import { openPreview, portShares, setPortShare } from '../api/previews';
import { getDevcontainer, getWorkspace, keepAlive, listeningPorts, noteActivity, startWorkspace } from '../api/workspaces';
import { readText, writeText } from '../api/files';
import type { Devcontainer, ListeningPort, ShareLevel, User, Workspace } from '../api/types';
import { DevcontainerStatus } from '../components/devcontainer';
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

  // Ports are asked for every second while it runs (the agent reads the
  // kernel's socket tables; nothing is scanned), so a server started in a
  // terminal shows up within about a second.
  const portsLive = w?.state === 'running' && !rebuilding;
  useEffect(() => {
    if (!portsLive) return;
    let stop = false;
    const look = () =>
      listeningPorts(id)
        .then((p) => !stop && setPorts((old) => (JSON.stringify(old) === JSON.stringify(p) ? old : p)))
        .catch(() => {});
    look();
    const t = setInterval(look, 1000);
    return () => {
      stop = true;
      clearInterval(t);
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

  const running = w?.state === 'running';
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
            {running && <FileTree id={id} onOpen={openFile} onError={setError} activePath={active} />}
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
        {w && (ports.length > 0 || (dc?.forward_ports.length ?? 0) > 0) && <Ports id={w.id} name={w.name} ports={ports} forwarded={dc?.forward_ports ?? []} />}
        {w && running && <DevcontainerStatus id={w.id} dc={dc} onRebuilt={setW} onBusy={setRebuilding} />}
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

/// Ports something in the workspace listens on: each opens its preview
/// (a tab of its own origin, logged in), says who may open it, and copies
/// the command that forwards it to the user's machine.
function Ports({ id, name, ports, forwarded }: { id: string; name: string; ports: ListeningPort[]; forwarded: Devcontainer['forward_ports'] }) {
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
      {[...ports, ...forwarded.filter((f) => !ports.some((p) => p.port === f.port)).map((f) => ({ port: f.port, process: null, loopback_only: false, waiting: true }))].map((p) => {
        const label = forwarded.find((f) => f.port === p.port)?.label;
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
