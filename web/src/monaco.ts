// Monaco, loaded on demand (the dashboard never pays for it): the core
// editor plus Monarch syntax highlighting for every basic language.
import * as monaco from 'monaco-editor/esm/vs/editor/editor.api';
// The editor's contributions: find/replace, folding, bracket matching,
// multi-cursor, inline suggestions (ghost text), and the rest of a real editor.
import 'monaco-editor/esm/vs/editor/editor.all.js';
import 'monaco-editor/esm/vs/basic-languages/monaco.contribution';
import EditorWorker from 'monaco-editor/esm/vs/editor/editor.worker?worker';

(self as unknown as { MonacoEnvironment: unknown }).MonacoEnvironment = {
  getWorker: () => new EditorWorker(),
};

export function languageFor(path: string): string {
  const name = path.split('/').pop() || '';
  const ext = name.includes('.') ? '.' + name.split('.').pop()!.toLowerCase() : '';
  for (const l of monaco.languages.getLanguages()) {
    if (l.filenames?.includes(name) || (ext && l.extensions?.includes(ext))) return l.id;
  }
  if (name === 'Dockerfile') return 'dockerfile';
  return 'plaintext';
}

export { monaco };
(globalThis as unknown as { __aicockpitMonaco: unknown }).__aicockpitMonaco = monaco;
