// The AI panel's Chat tab: answers streamed from the gateway, @file
// mentions, the open file or selection as context, a model picker, stop,
// and conversations kept on the server.
import { useEffect, useRef, useState } from 'preact/hooks';
import { listModels, streamChat } from '../../api/gateway';
import { modelFor } from '../../api/features';
import { deleteConversation, getConversation, listConversations, saveConversation } from '../../api/conversations';
import { findFiles } from '../../api/files';
import type { ChatMessage, ConversationSummary } from '../../api/types';
import { Markdown } from '../markdown';
import { getSelection } from '../../selection';
import { completeMention, readMentions, typedMention } from './mentions';
import type { ActiveFile, InsertCode } from './editor-link';

type Msg = ChatMessage & { role: 'user' | 'assistant' };

const SYSTEM = 'You are a helpful coding assistant inside the AiCockpit IDE. Answer in Markdown.';

export function Chat({ id, activeFile, onInsert }: { id: string; activeFile: ActiveFile; onInsert: InsertCode }) {
  const [msgs, setMsgs] = useState<Msg[]>([]);
  const [input, setInput] = useState('');
  const [models, setModels] = useState<string[]>([]);
  const [model, setModel] = useState('');
  /// The model chat uses unless one is picked here (My account, or the admins' default).
  const [preferred, setPreferred] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [withFile, setWithFile] = useState(false);
  const [withSelection, setWithSelection] = useState(false);
  const [convs, setConvs] = useState<ConversationSummary[]>([]);
  const [cid, setCid] = useState<string>(() => crypto.randomUUID());
  const [suggest, setSuggest] = useState<string[]>([]);
  const abort = useRef<AbortController | null>(null);
  const end = useRef<HTMLDivElement>(null);

  useEffect(() => {
    modelFor('chat').then(setPreferred);
    listModels()
      .then((r) => setModels(r.data.map((m) => m.id)))
      .catch(() => setModels([]));
    listConversations(id)
      .then((list) => {
        setConvs(list);
        if (list.length) open(list[0].id);
      })
      .catch(() => {});
  }, [id]);

  const open = (c: string) => {
    setCid(c);
    getConversation(id, c)
      .then((conv) => setMsgs((conv.messages as Msg[]) || []))
      .catch(() => setMsgs([]));
  };
  const fresh = () => {
    setCid(crypto.randomUUID());
    setMsgs([]);
  };
  const remove = async () => {
    await deleteConversation(id, cid).catch(() => {});
    setConvs((cs) => cs.filter((c) => c.id !== cid));
    fresh();
  };
  useEffect(() => end.current?.scrollIntoView({ block: 'end' }), [msgs]);

  const onInput = async (v: string) => {
    setInput(v);
    const partial = typedMention(v);
    if (partial) {
      const found = await findFiles(id, partial, 8).catch(() => []);
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
      const messages: ChatMessage[] = [
        { role: 'system', content: SYSTEM },
        ...history.slice(0, -1),
        { role: 'user', content: context ? `${text}\n\n${context}` : text },
      ];
      await streamChat({ model: model || (await modelFor('chat')), messages }, ctrl.signal, (soFar) => {
        answer = soFar;
        setMsgs([...history, { role: 'assistant', content: answer }]);
      });
    } catch (e) {
      if ((e as Error).name !== 'AbortError') setError(String((e as Error).message || e));
    } finally {
      setBusy(false);
      abort.current = null;
      const final = [...history, { role: 'assistant' as const, content: answer || '(stopped)' }];
      setMsgs(final);
      saveConversation(id, cid, final.slice(-100))
        .then(() => listConversations(id).then(setConvs))
        .catch(() => {});
    }
  };

  return (
    <div class="chat">
      <div class="row chat-tools">
        <select value={model} onChange={(e) => setModel(e.currentTarget.value)} aria-label="Model">
          <option value="">{preferred ? `default: ${preferred}` : 'default model'}</option>
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
            <li onClick={() => (setInput(completeMention(input, p)), setSuggest([]))}>{p}</li>
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
