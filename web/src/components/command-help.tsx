// Command help above the terminals: a task in words becomes a suggested
// shell command, typed into the terminal only after the user confirms.
import { useState } from 'preact/hooks';
import { ApiError } from '../api/http';
import { chat } from '../api/gateway';
import { modelFor } from '../api/features';

/// Describe a task in words, get a shell command with a short explanation;
/// it runs in the terminal only after the user confirms.
export function CommandHelp({ onRun }: { onRun: (cmd: string) => void }) {
  const [ask, setAsk] = useState('');
  const [busy, setBusy] = useState(false);
  const [answer, setAnswer] = useState<{ command: string; explanation: string } | null>(null);
  const [error, setError] = useState('');
  const go = async () => {
    setBusy(true);
    setError('');
    setAnswer(null);
    try {
      const r = await chat({
        model: await modelFor('command_help'),
        temperature: 0,
        max_tokens: 200,
        messages: [
          {
            role: 'system',
            content:
              'You turn a task into one POSIX shell command for a Debian workspace. Reply with JSON only: {"command": "...", "explanation": "one sentence"}.',
          },
          { role: 'user', content: ask },
        ],
      });
      const text = r.choices?.[0]?.message?.content ?? '';
      const m = text.match(/\{[\s\S]*\}/);
      let parsed: { command?: string; explanation?: string } = {};
      try {
        parsed = m ? JSON.parse(m[0]) : {};
      } catch {
        parsed = {};
      }
      const command = (parsed.command || text.replace(/```\w*/g, '').trim().split('\n')[0] || '').trim();
      if (!command) throw new Error('the model suggested no command');
      setAnswer({ command, explanation: parsed.explanation || '' });
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String((e as Error).message || e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="cmd-help">
      {answer ? (
        <>
          <span class="suggestion" title={answer.explanation}>
            $ {answer.command}
          </span>
          <span class="muted small">{answer.explanation}</span>
          <span class="spacer" />
          <button class="primary" onClick={() => (onRun(answer.command), setAnswer(null), setAsk(''))}>
            Run
          </button>
          <button onClick={() => setAnswer(null)}>Cancel</button>
        </>
      ) : (
        <>
          <input
            placeholder="Describe a command for the AI to suggest (Enter)…"
            value={ask}
            onInput={(e) => setAsk(e.currentTarget.value)}
            onKeyDown={(e) => e.key === 'Enter' && ask.trim() && !busy && go()}
          />
          {busy && <span class="spinner" />}
          {error && <span class="error small">{error}</span>}
        </>
      )}
    </div>
  );
}
