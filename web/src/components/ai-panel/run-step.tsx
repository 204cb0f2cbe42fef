// One step of an agent run as the Agent tab shows it: the model's words, a
// tool call and its policy decision, an approval to answer, a tool's output,
// or the end (with undo).
import type { RunEvent } from '../../api/types';
import { Markdown } from '../markdown';

export function RunStep(props: {
  event: RunEvent;
  /// Whether this approval was already answered (its buttons go).
  answered: boolean;
  onAnswer: (callId: string, approve: boolean, remember?: boolean) => void;
  /// What undo did, once it ran.
  undone: string;
  onUndo: () => void;
}) {
  const e = props.event;
  if (e.type === 'assistant' && e.content)
    return (
      <div class="bubble assistant">
        <Markdown text={e.content} />
      </div>
    );
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
        {!props.answered && (
          <div class="row">
            <button class="primary" onClick={() => props.onAnswer(e.id!, true)}>
              Approve once
            </button>
            {e.tool === 'run_command' && <button onClick={() => props.onAnswer(e.id!, true, true)}>Always allow</button>}
            <button class="danger" onClick={() => props.onAnswer(e.id!, false)}>
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
        <span class="muted">Run ended: {String(e.reason)}</span>
        <span class="spacer" />
        {props.undone ? <span class="muted">{props.undone}</span> : <button onClick={props.onUndo}>Undo file changes</button>}
      </div>
    );
  return null;
}
