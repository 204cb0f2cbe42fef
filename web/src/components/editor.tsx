// Tabs of open files in Monaco: syntax highlighting by file type, dirty
// markers, Ctrl/Cmd+S to save, and a clear choice when the file changed on
// disk meanwhile (the server's 412).
import { useEffect, useRef, useState } from 'preact/hooks';
import { registerInlineCompletions } from '../ai-editor';
import { AiEditDialog } from './ai-edit';
import { setSelection } from '../selection';

export interface OpenFile {
  path: string;
  content: string;
  saved: string;
  etag: string;
  conflict: boolean;
  /// Bumped when the content is replaced from disk.
  version?: number;
}

type Monaco = typeof import('../monaco');

const dark = () => window.matchMedia('(prefers-color-scheme: dark)').matches;

export function EditorArea(props: {
  files: OpenFile[];
  active: string | null;
  onActivate: (p: string) => void;
  onChange: (p: string, content: string) => void;
  onSave: (p: string, force?: boolean) => void;
  onClose: (p: string) => void;
  onReload: (p: string) => void;
}) {
  const host = useRef<HTMLDivElement>(null);
  const [m, setM] = useState<Monaco | null>(null);
  const editor = useRef<import('monaco-editor').editor.IStandaloneCodeEditor | null>(null);
  const models = useRef(new Map<string, { model: import('monaco-editor').editor.ITextModel; version: number }>());
  const propsRef = useRef(props);
  propsRef.current = props;
  const [aiEdit, setAiEdit] = useState<{ range: import('monaco-editor').IRange; original: string; language: string } | null>(null);

  useEffect(() => {
    import('../monaco').then(setM);
  }, []);

  useEffect(() => {
    if (!m || !host.current) return;
    const ed = m.monaco.editor.create(host.current, {
      automaticLayout: true,
      theme: dark() ? 'vs-dark' : 'vs',
      fontSize: 13,
      minimap: { enabled: false },
      scrollBeyondLastLine: false,
      tabSize: 4,
      inlineSuggest: { enabled: true, showToolbar: 'onHover' },
    });
    editor.current = ed;
    ed.addCommand(m.monaco.KeyMod.CtrlCmd | m.monaco.KeyCode.KeyS, () => {
      const p = propsRef.current.active;
      if (p) propsRef.current.onSave(p);
    });
    // Ctrl/Cmd+K: rewrite the selection (or the current line) as instructed.
    ed.addAction({
      id: 'aicockpit.ai-edit',
      label: 'AI: edit the selection',
      keybindings: [m.monaco.KeyMod.CtrlCmd | m.monaco.KeyCode.KeyK],
      run: () => {
        const model = ed.getModel();
        const sel = ed.getSelection();
        if (!model || !sel) return;
        const range = sel.isEmpty() ? new m.monaco.Range(sel.startLineNumber, 1, sel.startLineNumber, model.getLineMaxColumn(sel.startLineNumber)) : sel;
        setAiEdit({ range, original: model.getValueInRange(range), language: model.getLanguageId() });
      },
    });
    const inline = registerInlineCompletions(m.monaco);
    ed.onDidChangeCursorSelection((e) => {
      const model = ed.getModel();
      const p = propsRef.current.active;
      setSelection(model && p ? { path: p, text: model.getValueInRange(e.selection) } : null);
    });
    ed.onDidChangeModelContent(() => {
      const p = propsRef.current.active;
      const model = ed.getModel();
      if (p && model) propsRef.current.onChange(p, model.getValue());
    });
    const mq = window.matchMedia('(prefers-color-scheme: dark)');
    const onTheme = () => m.monaco.editor.setTheme(mq.matches ? 'vs-dark' : 'vs');
    mq.addEventListener('change', onTheme);
    return () => {
      mq.removeEventListener('change', onTheme);
      inline.dispose();
      ed.dispose();
      models.current.forEach((x) => x.model.dispose());
      models.current.clear();
    };
  }, [m]);

  // Keep one model per open file; switch the editor to the active one.
  useEffect(() => {
    if (!m || !editor.current) return;
    const open = new Set(props.files.map((f) => f.path));
    for (const [p, x] of models.current) {
      if (!open.has(p)) {
        x.model.dispose();
        models.current.delete(p);
      }
    }
    for (const f of props.files) {
      const x = models.current.get(f.path);
      if (!x) {
        const model = m.monaco.editor.createModel(f.content, m.languageFor(f.path));
        models.current.set(f.path, { model, version: f.version || 0 });
      } else if ((f.version || 0) !== x.version) {
        x.model.setValue(f.content);
        x.version = f.version || 0;
      }
    }
    const target = props.active ? models.current.get(props.active)?.model : null;
    if (editor.current.getModel() !== (target || null)) editor.current.setModel(target || null);
    if (target) editor.current.focus();
  }, [m, props.files, props.active]);

  const active = props.files.find((f) => f.path === props.active);
  return (
    <div class="editor-area">
      <div class="tabs" role="tablist">
        {props.files.map((f) => (
          <div
            class={`tab ${f.path === props.active ? 'active' : ''}`}
            role="tab"
            data-path={f.path}
            title={f.path}
            onClick={() => props.onActivate(f.path)}
            onAuxClick={(e) => e.button === 1 && props.onClose(f.path)}
          >
            <span>{f.path.split('/').pop()}</span>
            {f.content !== f.saved ? <span class="dirty" title="Unsaved changes">●</span> : null}
            <button class="icon close" aria-label={`Close ${f.path}`} onClick={(e) => (e.stopPropagation(), props.onClose(f.path))}>
              ×
            </button>
          </div>
        ))}
      </div>
      {active?.conflict && (
        <div class="conflict" role="alert">
          <b>{active.path}</b> changed on disk since you opened it. Your version was not saved.
          <button onClick={() => props.onReload(active.path)}>Load the disk version</button>
          <button class="danger" onClick={() => props.onSave(active.path, true)}>
            Overwrite with mine
          </button>
        </div>
      )}
      <div class="editor-host" ref={host} style={{ display: props.active ? 'block' : 'none' }} />
      {aiEdit && m && (
        <AiEditDialog
          monaco={m.monaco}
          original={aiEdit.original}
          language={aiEdit.language}
          onClose={() => {
            setAiEdit(null);
            editor.current?.focus();
          }}
          onAccept={(text) => {
            editor.current?.executeEdits('aicockpit-ai', [{ range: aiEdit.range, text }]);
            setAiEdit(null);
            editor.current?.focus();
          }}
        />
      )}
      {!props.active && (
        <div class="center muted">
          <p>
            Open a file from the tree. <kbd>Ctrl+S</kbd> saves, <kbd>Ctrl+Shift+K</kbd> switches workspace.
          </p>
        </div>
      )}
    </div>
  );
}
