// AI inside the editor: inline completions (fill-in-the-middle, debounced,
// cancelled when typing goes on, cached, shown as ghost text, Tab accepts)
// and Ctrl/Cmd+K (an instruction; the rewrite streams into a diff to
// accept or reject).
import type * as Monaco from 'monaco-editor';
import * as gateway from './api/gateway';
import { modelFor } from './api/features';

const cache = new Map<string, string>();
let fimWorks: boolean | null = null;

function abortOn(tok: Monaco.CancellationToken): AbortController {
  const c = new AbortController();
  tok.onCancellationRequested(() => c.abort());
  return c;
}

async function complete(prefix: string, suffix: string, signal: AbortSignal): Promise<string> {
  const model = await modelFor('completion');
  if (fimWorks !== false) {
    // The model's own fill-in-the-middle, where the service has it.
    const r = await gateway.complete({ model, prompt: prefix, suffix, max_tokens: 48, temperature: 0.2, stop: ['\n\n'] }, signal);
    if (r.ok) {
      fimWorks = true;
      return r.text;
    }
    if (r.status !== 400 && r.status !== 404) return '';
    fimWorks = false;
  }
  // Chat-style fallback for services without completions.
  return gateway.chatText(
    {
      model,
      max_tokens: 48,
      temperature: 0.2,
      messages: [
        { role: 'system', content: 'Complete the code at <CURSOR>. Reply with only the inserted text, no explanation, no code fences.' },
        { role: 'user', content: `${prefix}<CURSOR>${suffix}` },
      ],
    },
    signal,
  );
}

export function registerInlineCompletions(monaco: typeof Monaco): Monaco.IDisposable {
  return monaco.languages.registerInlineCompletionsProvider('*', {
    async provideInlineCompletions(model, position, _ctx, tok) {
      const full = model.getValue();
      const offset = model.getOffsetAt(position);
      const prefix = full.slice(Math.max(0, offset - 3000), offset);
      const suffix = full.slice(offset, offset + 1000);
      if (prefix.trim().length < 3) return { items: [] };
      const key = prefix.slice(-400) + '\u0000' + suffix.slice(0, 200);
      let text = cache.get(key);
      if (text === undefined) {
        // Debounce: typing on cancels this request before it is sent.
        await new Promise((r) => setTimeout(r, 300));
        if (tok.isCancellationRequested) return { items: [] };
        try {
          text = await complete(prefix, suffix, abortOn(tok).signal);
        } catch {
          return { items: [] };
        }
        if (cache.size > 200) cache.clear();
        cache.set(key, text);
      }
      if (!text) return { items: [] };
      return { items: [{ insertText: text, range: new monaco.Range(position.lineNumber, position.column, position.lineNumber, position.column) }] };
    },
    freeInlineCompletions() {},
  });
}

const unfence = (t: string) => t.replace(/^```\w*\n?/, '').replace(/\n?```\s*$/, '');

/// Streams a rewrite of `original` following `instruction`; calls `onText`
/// with the text so far.
export async function streamRewrite(original: string, instruction: string, language: string, signal: AbortSignal, onText: (t: string) => void): Promise<string> {
  const text = await gateway.streamChat(
    {
      model: await modelFor('edit'),
      messages: [
        { role: 'system', content: `You rewrite ${language} code as instructed. Reply with only the new code, no explanation, no code fences.` },
        { role: 'user', content: `Instruction: ${instruction}\n\nCode:\n${original}` },
      ],
    },
    signal,
    (soFar) => onText(unfence(soFar)),
  );
  return unfence(text);
}
