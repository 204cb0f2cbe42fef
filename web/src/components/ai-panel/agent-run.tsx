// The AI panel's Agent tab: a task runs as tool calls in the workspace;
// "ask" actions wait here for the user's approval; stop, and undo the
// run's file changes afterwards.
import { useEffect, useRef, useState } from 'preact/hooks';
import { errorMessage } from '../../api/http';
import { answerApproval, runEvents, startRun, stopRun, undoRun } from '../../api/runs';
import { modelFor } from '../../api/features';
import type { RunEvent } from '../../api/types';
import { RunStep } from './run-step';

export function AgentRun({ id }: { id: string }) {
  const [task, setTask] = useState('');
  const [run, setRun] = useState<string | null>(null);
  const [events, setEvents] = useState<RunEvent[]>([]);
  const [error, setError] = useState('');
  const [answered, setAnswered] = useState<Set<string>>(new Set());
  const [undone, setUndone] = useState('');
  const ctrl = useRef<AbortController | null>(null);
  useEffect(() => () => ctrl.current?.abort(), []);

  const start = async () => {
    setError('');
    setEvents([]);
    setAnswered(new Set());
    try {
      const model = await modelFor('agent');
      const r = await startRun(id, model ? { task, model } : { task });
      setRun(r.run_id);
      const c = new AbortController();
      ctrl.current = c;
      runEvents(r.run_id, c.signal, (e) => setEvents((es) => [...es, e])).catch(() => {});
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  const answer = async (callId: string, approve: boolean, remember = false) => {
    setAnswered((a) => new Set(a).add(callId));
    await answerApproval(run!, callId, { approve, remember }).catch((e) => setError(e.message));
  };
  const ended = events.find((e) => e.type === 'end');
  const undo = async () => {
    try {
      const r = await undoRun(run!);
      setUndone(r.restored.length ? `Restored ${r.restored.join(', ')}` : 'Nothing to restore');
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  return (
    <div class="agent">
      <textarea rows={3} placeholder="Give the agent a task…" value={task} onInput={(e) => setTask(e.currentTarget.value)} />
      <div class="row">
        <span class="spacer" />
        {run && !ended ? (
          <button onClick={() => stopRun(run).catch(() => {})}>Stop</button>
        ) : (
          <button class="primary" onClick={start} disabled={!task.trim()}>
            Run
          </button>
        )}
      </div>
      {error && <div class="error">{error}</div>}
      <div class="agent-log">
        {events.map((e) => (
          <RunStep event={e} answered={!!e.id && answered.has(e.id)} onAnswer={answer} undone={undone} onUndo={undo} />
        ))}
      </div>
    </div>
  );
}
