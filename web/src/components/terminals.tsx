// Terminal tabs: xterm.js on the server's WebSocket, fitted to the panel,
// reconnecting on its own (the server replays the kept output).
import { useEffect, useRef, useState } from 'preact/hooks';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import { ApiError } from '../api/http';
import { killTerminal, listTerminals, openTerminal, terminalSocketUrl } from '../api/terminals';
import type { TermInfo } from '../api/types';
import { CommandHelp } from './command-help';

const theme = () =>
  window.matchMedia('(prefers-color-scheme: dark)').matches
    ? { background: '#1e1e1e', foreground: '#d4d4d4', cursor: '#d4d4d4' }
    : { background: '#ffffff', foreground: '#1e1e1e', cursor: '#1e1e1e', selectionBackground: '#c8d7ff' };

function TerminalView({ id, term, visible }: { id: string; term: TermInfo; visible: boolean }) {
  const host = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState('connecting');
  useEffect(() => {
    const xterm = new Terminal({ fontSize: 13, cursorBlink: true, theme: theme(), scrollback: 5000, fontFamily: 'ui-monospace, Menlo, Consolas, monospace' });
    const fit = new FitAddon();
    xterm.loadAddon(fit);
    xterm.open(host.current!);
    let sock: WebSocket | null = null;
    let closed = false;
    let retry: ReturnType<typeof setTimeout>;
    let attempt = 0;
    const sendSize = () => {
      if (sock?.readyState === WebSocket.OPEN) sock.send(JSON.stringify({ type: 'resize', cols: xterm.cols, rows: xterm.rows }));
    };
    const connect = async () => {
      try {
        sock = new WebSocket(await terminalSocketUrl(id, term.id));
        sock.binaryType = 'arraybuffer';
        let first = true;
        sock.onopen = () => {
          attempt = 0;
          setStatus('connected');
          sendSize();
        };
        sock.onmessage = (ev) => {
          if (typeof ev.data === 'string') {
            const msg = JSON.parse(ev.data);
            if (msg.type === 'attached' && first) {
              // The server replays kept output after this: start clean.
              xterm.reset();
              first = false;
            } else if (msg.type === 'exit') {
              closed = true;
              setStatus(`exited (${msg.code ?? '?'})`);
              xterm.write(`\r\n\x1b[2m[process exited with code ${msg.code ?? '?'}]\x1b[0m\r\n`);
            }
          } else {
            xterm.write(new Uint8Array(ev.data));
          }
        };
        sock.onclose = () => {
          if (closed) return;
          setStatus('reconnecting');
          retry = setTimeout(connect, Math.min(5000, 250 * 2 ** attempt++));
        };
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) {
          setStatus('gone');
          return;
        }
        setStatus('reconnecting');
        retry = setTimeout(connect, Math.min(5000, 250 * 2 ** attempt++));
      }
    };
    connect();
    const enc = new TextEncoder();
    const data = xterm.onData((d) => sock?.readyState === WebSocket.OPEN && sock.send(enc.encode(d)));
    // Text typed on the user's behalf (a confirmed command suggestion).
    const onType = (e: Event) => {
      const { terminal, text } = (e as CustomEvent).detail;
      if (terminal === term.id && sock?.readyState === WebSocket.OPEN) sock.send(enc.encode(text));
    };
    window.addEventListener('aicockpit:type', onType);
    const resized = xterm.onResize(sendSize);
    const obs = new ResizeObserver(() => {
      if (host.current && host.current.offsetParent !== null) fit.fit();
    });
    obs.observe(host.current!);
    return () => {
      window.removeEventListener('aicockpit:type', onType);
      closed = true;
      clearTimeout(retry);
      obs.disconnect();
      data.dispose();
      resized.dispose();
      sock?.close();
      xterm.dispose();
    };
  }, [id, term.id]);
  return (
    <div class="term-view" style={{ display: visible ? 'flex' : 'none' }} data-terminal={term.id} data-status={status}>
      <div class="term-host" ref={host} />
    </div>
  );
}

export function Terminals({ id, onError }: { id: string; onError: (m: string) => void }) {
  const [terms, setTerms] = useState<TermInfo[]>([]);
  const [active, setActive] = useState<string | null>(null);
  const open = async () => {
    try {
      const t = await openTerminal(id, { cols: 100, rows: 24 });
      setTerms((ts) => [...ts, t]);
      setActive(t.id);
    } catch (e) {
      onError(e instanceof ApiError ? e.message : String(e));
    }
  };
  useEffect(() => {
    // Terminals outlive the page: pick up the running ones, or start one.
    listTerminals(id)
      .then((list) => {
        const live = list.filter((t) => t.exit_code === null);
        if (live.length) {
          setTerms(live);
          setActive(live[0].id);
        } else open();
      })
      .catch((e) => onError(e instanceof ApiError ? e.message : String(e)));
  }, [id]);
  const kill = async (tid: string) => {
    await killTerminal(id, tid).catch(() => {});
    const rest = terms.filter((t) => t.id !== tid);
    setTerms(rest);
    if (active === tid) setActive(rest.length ? rest[0].id : null);
  };
  return (
    <div class="terminals">
      <CommandHelp onRun={(cmd) => active && window.dispatchEvent(new CustomEvent('aicockpit:type', { detail: { terminal: active, text: cmd + '\r' } }))} />
      <div class="tabs small-tabs">
        {terms.map((t, i) => (
          <div class={`tab ${t.id === active ? 'active' : ''}`} onClick={() => setActive(t.id)} data-terminal-tab={t.id}>
            <span>Terminal {i + 1}</span>
            <button class="icon close" aria-label="Close terminal" onClick={(e) => (e.stopPropagation(), kill(t.id))}>
              ×
            </button>
          </div>
        ))}
        <button class="icon" title="New terminal" aria-label="New terminal" onClick={open}>
          +
        </button>
      </div>
      <div class="term-stack">
        {terms.map((t) => (
          <TerminalView key={t.id} id={id} term={t} visible={t.id === active} />
        ))}
      </div>
    </div>
  );
}
