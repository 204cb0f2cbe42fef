// The AI panel: chat (streamed, with @file mentions, model picker and stop)
// and the agent (a task runs as tool calls; "ask" actions wait for the
// user's approval here).
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get, post, request, sse, token, ws, q } from '../api';
import { Markdown } from './markdown';
import { getSelection } from '../selection';

interface Msg {
  role: 'user' | 'assistant';
  content: string;
}

async function readMentions(id: string, text: string): Promise<string> {
  // `@path/to/file` puts that file's content into the context.
  const paths = [...new Set([...text.matchAll(/@([\w./-]+)/g)].map((m) => m[1]))].slice(0, 8);
  const parts: string[] = [];
  for (const p of paths) {
    try {
      const body = await (await request('GET', `${ws(id)}/files/content${q({ path: p })}`)).text();
      parts.push(`File ${p}:\n\`\`\`\n${body.slice(0, 20000)}\n\`\`\``);
    } catch {
      parts.push(`(File ${p} could not be read.)`);
    }
  }
  return parts.join('\n\n');
}

function Chat({ id, activeFile, onInsert }: { id: string; activeFile: () => { path: string; text: string } | null; onInsert: (c: string) => void }) {
  const [msgs, setMsgs] = useState<Msg[]>([]);
  const [input, setInput] = useState('');
  const [models, setModels] = useState<string[]>([]);
  const [model, setModel] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [withFile, setWithFile] = useState(false);
  const [withSelection, setWithSelection] = useState(false);
  const [convs, setConvs] = useState<{ id: string; title: string }[]>([]);
  const [cid, setCid] = useState<string>(() => crypto.randomUUID());
  const [suggest, setSuggest] = useState<string[]>([]);
  const abort = useRef<AbortController | null>(null);
  const end = useRef<HTMLDivElement>(null);

  useEffect(() => {
    get<{ data: { id: string }[] }>('/v1/models')
      .then((r) => setModels(r.data.map((m) => m.id)))
      .catch(() => setModels([]));
    get<{ id: string; title: string }[]>(`${ws(id)}/conversations`)
      .then((list) => {
        setConvs(list);
        if (list.length) open(list[0].id);
      })
      .catch(() => {});
  }, [id]);

  const open = (c: string) => {
    setCid(c);
    get<{ messages: Msg[] }>(`${ws(id)}/conversations/${c}`)
      .then((conv) => setMsgs(conv.messages || []))
      .catch(() => setMsgs([]));
  };
  const fresh = () => {
    setCid(crypto.randomUUID());
    setMsgs([]);
  };
  const remove = async () => {
    await request('DELETE', `${ws(id)}/conversations/${cid}`).catch(() => {});
    setConvs((cs) => cs.filter((c) => c.id !== cid));
    fresh();
  };
  useEffect(() => end.current?.scrollIntoView({ block: 'end' }), [msgs]);

  const onInput = async (v: string) => {
    setInput(v);
    const m = v.match(/@([\w./-]*)$/);
    if (m && m[1].length >= 1) {
      const found = await get<string[]>(`${ws(id)}/search/files${q({ q: m[1], max: 8 })}`).catch(() => []);
      setSuggest(found);
    } else setSuggest([]);
  };

  const send = async () => {
    const text = input.trim();
    if (!text || busy) return;
    setError('');
    setInput('');
    setSuggest([]);
    const history: Msg[] = [...msgs, { role: 'user', content: text }];
    setMsgs([...history, { role: 'assistant', content: '' }]);
    setBusy(true);
    const ctrl = new AbortController();
    abort.current = ctrl;
    let answer = '';
    try {
      let context = await readMentions(id, text);
      const f = withFile ? activeFile() : null;
      if (f) context += `\n\nThe open file ${f.path}:\n\`\`\`\n${f.text.slice(0, 20000)}\n\`\`\``;
      const sel = withSelection ? getSelection() : null;
      if (sel) context += `\n\nThe selection in ${sel.path}:\n\`\`\`\n${sel.text.slice(0, 20000)}\n\`\`\``;
      const messages = [
        { role: 'system', content: 'You are a helpful coding assistant inside the AiCockpit IDE. Answer in Markdown.' },
        ...history.slice(0, -1),
        { role: 'user', content: context ? `${text}\n\n${context}` : text },
      ];
      const resp = await fetch('/v1/chat/completions', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token()}` },
        body: JSON.stringify({ model, stream: true, messages }),
        signal: ctrl.signal,
      });
      if (!resp.ok || !resp.body) {
        const e = await resp.json().catch(() => null);
        throw new Error(e?.error?.message || `HTTP ${resp.status}`);
      }
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = ev.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
          if (!data || data === '[DONE]') continue;
          const j = JSON.parse(data);
          if (j.error) throw new Error(j.error.message);
          answer += j.choices?.[0]?.delta?.content ?? '';
          setMsgs([...history, { role: 'assistant', content: answer }]);
        }
      }
    } catch (e) {
      if ((e as Error).name !== 'AbortError') setError(String((e as Error).message || e));
    } finally {
      setBusy(false);
      abort.current = null;
      const final = [...history, { role: 'assistant' as const, content: answer || '(stopped)' }];
      setMsgs(final);
      request('PUT', `${ws(id)}/conversations/${cid}`, { messages: final.slice(-100) })
        .then(() => get<{ id: string; title: string }[]>(`${ws(id)}/conversations`).then(setConvs))
        .catch(() => {});
    }
  };

  return (
    <div class="chat">
      <div class="row chat-tools">
        <select value={model} onChange={(e) => setModel(e.currentTarget.value)} aria-label="Model">
          <option value="">default model</option>
          {models.map((m) => (
            <option value={m}>{m}</option>
          ))}
        </select>
        <button class="icon" title="New conversation" onClick={fresh}>
          New
        </button>
      </div>
      {convs.length > 0 && (
        <div class="row">
          <select value={cid} onChange={(e) => open(e.currentTarget.value)} aria-label="Conversation">
            {!convs.some((c) => c.id === cid) && <option value={cid}>New chat</option>}
            {convs.map((c) => (
              <option value={c.id}>{c.title}</option>
            ))}
          </select>
          <button class="icon" title="Delete this conversation" onClick={remove}>
            Delete
          </button>
        </div>
      )}
      <div class="chat-log">
        {msgs.map((m) => (
          <div class={`bubble ${m.role}`}>{m.role === 'assistant' ? <Markdown text={m.content || '…'} onInsert={onInsert} /> : m.content}</div>
        ))}
        <div ref={end} />
      </div>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      {suggest.length > 0 && (
        <ul class="mentions">
          {suggest.map((p) => (
            <li onClick={() => (setInput(input.replace(/@[\w./-]*$/, `@${p} `)), setSuggest([]))}>{p}</li>
          ))}
        </ul>
      )}
      <textarea
        class="chat-input"
        rows={3}
        placeholder="Ask about your code… @file to include a file, Enter to send"
        value={input}
        onInput={(e) => onInput(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey) {
            e.preventDefault();
            send();
          }
        }}
      />
      <div class="row">
        <label class="check small">
          <input type="checkbox" checked={withFile} onChange={(e) => setWithFile(e.currentTarget.checked)} /> open file
        </label>
        <label class="check small">
          <input type="checkbox" checked={withSelection} onChange={(e) => setWithSelection(e.currentTarget.checked)} /> selection
        </label>
        <span class="spacer" />
        {busy ? (
          <button onClick={() => abort.current?.abort()}>Stop</button>
        ) : (
          <button class="primary" onClick={send} disabled={!input.trim()}>
            Send
          </button>
        )}
      </div>
    </div>
  );
}

interface AgentEvent {
  type: string;
  id?: string;
  tool?: string;
  args?: Record<string, unknown>;
  decision?: string;
  reason?: string;
  content?: string | null;
  output?: string;
  ok?: boolean;
}

function Agent({ id }: { id: string }) {
  const [task, setTask] = useState('');
  const [run, setRun] = useState<string | null>(null);
  const [events, setEvents] = useState<AgentEvent[]>([]);
  const [error, setError] = useState('');
  const [answered, setAnswered] = useState<Set<string>>(new Set());
  const ctrl = useRef<AbortController | null>(null);
  useEffect(() => () => ctrl.current?.abort(), []);

  const start = async () => {
    setError('');
    setEvents([]);
    setAnswered(new Set());
    try {
      const r = await post<{ run_id: string }>(`${ws(id)}/agent`, { task });
      setRun(r.run_id);
      const c = new AbortController();
      ctrl.current = c;
      sse(`/api/v1/runs/${r.run_id}/events`, c.signal, (_n, data) => setEvents((e) => [...e, JSON.parse(data)])).catch(() => {});
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  };
  const answer = async (callId: string, approve: boolean, remember = false) => {
    setAnswered((a) => new Set(a).add(callId));
    await post(`/api/v1/runs/${run}/approvals/${callId}`, { approve, remember }).catch((e) => setError(e.message));
  };
  const ended = events.find((e) => e.type === 'end');
  const [undone, setUndone] = useState('');
  const undo = async () => {
    try {
      const r = await post<{ restored: string[] }>(`/api/v1/runs/${run}/undo`);
      setUndone(r.restored.length ? `Restored ${r.restored.join(', ')}` : 'Nothing to restore');
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  };
  return (
    <div class="agent">
      <textarea rows={3} placeholder="Give the agent a task…" value={task} onInput={(e) => setTask(e.currentTarget.value)} />
      <div class="row">
        <span class="spacer" />
        {run && !ended ? (
          <button onClick={() => post(`/api/v1/runs/${run}/stop`).catch(() => {})}>Stop</button>
        ) : (
          <button class="primary" onClick={start} disabled={!task.trim()}>
            Run
          </button>
        )}
      </div>
      {error && <div class="error">{error}</div>}
      <div class="agent-log">
        {events.map((e) => {
          if (e.type === 'assistant' && e.content) return <div class="bubble assistant"><Markdown text={e.content} /></div>;
          if (e.type === 'tool_call')
            return (
              <div class={`step decision-${e.decision}`}>
                <b>{e.tool}</b> <code>{JSON.stringify(e.args)}</code> <span class="muted small">{e.decision}</span>
              </div>
            );
          if (e.type === 'approval_needed')
            return (
              <div class="step ask">
                Approve <b>{e.tool}</b>? <code>{String(e.args?.command ?? e.args?.path ?? '')}</code>
                <div class="muted small">{e.reason}</div>
                {!answered.has(e.id!) && (
                  <div class="row">
                    <button class="primary" onClick={() => answer(e.id!, true)}>
                      Approve once
                    </button>
                    {e.tool === 'run_command' && <button onClick={() => answer(e.id!, true, true)}>Always allow</button>}
                    <button class="danger" onClick={() => answer(e.id!, false)}>
                      Reject
                    </button>
                  </div>
                )}
              </div>
            );
          if (e.type === 'tool_result') return <pre class={`step-out ${e.ok ? '' : 'failed'}`}>{(e.output || '').slice(0, 2000)}</pre>;
          if (e.type === 'end')
            return (
              <div class="row small">
                <span class="muted">Run ended: {String((e as { reason?: string }).reason)}</span>
                <span class="spacer" />
                {undone ? <span class="muted">{undone}</span> : <button onClick={undo}>Undo file changes</button>}
              </div>
            );
          return null;
        })}
      </div>
    </div>
  );
}

interface AuditRow {
  seq: number;
  at: string;
  actor: string;
  action: string;
  detail: unknown;
  decision: string | null;
  approved_by: string | null;
  result: string | null;
}

/// The workspace's audit trail: what people and the AI did, and who approved.
function Activity({ id }: { id: string }) {
  const [rows, setRows] = useState<AuditRow[]>([]);
  const [error, setError] = useState('');
  useEffect(() => {
    const load = () =>
      get<AuditRow[]>(`/api/v1/audit${q({ workspace: id, limit: 500 })}`)
        .then((r) => setRows(r.reverse()))
        .catch((e) => setError(e instanceof ApiError ? e.message : String(e)));
    load();
    const t = setInterval(load, 5000);
    return () => clearInterval(t);
  }, [id]);
  return (
    <div class="agent-log activity">
      {error && <div class="error">{error}</div>}
      {rows.map((r) => (
        <div class={`step decision-${r.decision === 'approved' ? 'allow' : r.decision === 'rejected' ? 'deny' : r.decision || 'none'}`}>
          <div>
            <b>{r.action}</b> <span class="muted small">{new Date(r.at).toLocaleTimeString()}</span>
          </div>
          <code>{JSON.stringify(r.detail)}</code>
          <div class="muted small">
            {r.actor.startsWith('agent:') ? 'agent' : 'user'}
            {r.decision ? ` · ${r.decision}` : ''}
            {r.approved_by ? ` by ${r.approved_by}` : ''}
            {r.result ? ` · ${r.result}` : ''}
          </div>
        </div>
      ))}
    </div>
  );
}

export function AiPanel({ id, activeFile, onInsert }: { id: string; activeFile: () => { path: string; text: string } | null; onInsert: (c: string) => void }) {
  const [tab, setTab] = useState<'chat' | 'agent' | 'activity'>('chat');
  return (
    <div class="ai">
      <div class="tabs small-tabs">
        <div class={`tab ${tab === 'chat' ? 'active' : ''}`} onClick={() => setTab('chat')}>
          Chat
        </div>
        <div class={`tab ${tab === 'agent' ? 'active' : ''}`} onClick={() => setTab('agent')}>
          Agent
        </div>
        <div class={`tab ${tab === 'activity' ? 'active' : ''}`} onClick={() => setTab('activity')}>
          Activity
        </div>
      </div>
      {tab === 'chat' ? (
        <Chat id={id} activeFile={activeFile} onInsert={onInsert} />
      ) : tab === 'agent' ? (
        <Agent id={id} />
      ) : (
        <Activity id={id} />
      )}
    </div>
  );
}
