// Ctrl/Cmd+K: an instruction box; the model's rewrite streams into a diff
// view (original left, rewrite right) to accept or reject.
import { useEffect, useRef, useState } from 'preact/hooks';
import type * as Monaco from 'monaco-editor';
import { streamRewrite } from '../ai-editor';
import { Modal } from './modal';

export function AiEditDialog(props: {
  monaco: typeof Monaco;
  original: string;
  language: string;
  onAccept: (text: string) => void;
  onClose: () => void;
}) {
  const [instruction, setInstruction] = useState('');
  const [state, setState] = useState<'ask' | 'streaming' | 'ready'>('ask');
  const [error, setError] = useState('');
  const host = useRef<HTMLDivElement>(null);
  const diff = useRef<Monaco.editor.IStandaloneDiffEditor | null>(null);
  const modified = useRef<Monaco.editor.ITextModel | null>(null);
  const result = useRef('');
  const abort = useRef<AbortController | null>(null);

  useEffect(() => {
    if (state === 'ask' || !host.current || diff.current) return;
    const { monaco } = props;
    const d = monaco.editor.createDiffEditor(host.current, { readOnly: true, automaticLayout: true, renderSideBySide: true, minimap: { enabled: false } });
    const a = monaco.editor.createModel(props.original, props.language);
    const b = monaco.editor.createModel('', props.language);
    d.setModel({ original: a, modified: b });
    diff.current = d;
    modified.current = b;
    return () => {
      d.dispose();
      a.dispose();
      b.dispose();
      diff.current = null;
    };
  }, [state === 'ask']);

  useEffect(() => () => abort.current?.abort(), []);

  const run = async () => {
    setState('streaming');
    setError('');
    const c = new AbortController();
    abort.current = c;
    try {
      result.current = await streamRewrite(props.original, instruction, props.language, c.signal, (t) => {
        result.current = t;
        modified.current?.setValue(t);
      });
      modified.current?.setValue(result.current);
      setState('ready');
    } catch (e) {
      if ((e as Error).name !== 'AbortError') setError(String((e as Error).message || e));
      setState('ready');
    }
  };

  return (
    <Modal title="Edit with AI" onClose={props.onClose}>
      {state === 'ask' ? (
        <input
          autoFocus
          class="switcher-input"
          placeholder="What should change? (Enter)"
          value={instruction}
          onInput={(e) => setInstruction(e.currentTarget.value)}
          onKeyDown={(e) => e.key === 'Enter' && instruction.trim() && run()}
        />
      ) : (
        <div ref={host} class="diff-host" />
      )}
      {error && <div class="error">{error}</div>}
      <div class="row end">
        <button onClick={props.onClose}>Reject</button>
        {state === 'streaming' && <button onClick={() => abort.current?.abort()}>Stop</button>}
        <button class="primary" disabled={state !== 'ready' || !result.current} onClick={() => props.onAccept(result.current)}>
          Accept
        </button>
      </div>
    </Modal>
  );
}
