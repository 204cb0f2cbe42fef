// The AI panel's Activity tab: the workspace's audit trail (what people and
// the AI did, and who approved), refreshed every 5 seconds.
import { useEffect, useState } from 'preact/hooks';
import { errorMessage } from '../../api/http';
import { listAudit } from '../../api/audit';
import type { AuditRow } from '../../api/types';

/// The decision as a `decision-…` class (the colours the Agent tab uses).
const decisionClass = (d: string | null | undefined) => (d === 'approved' ? 'allow' : d === 'rejected' ? 'deny' : d || 'none');

export function Activity({ id }: { id: string }) {
  const [rows, setRows] = useState<AuditRow[]>([]);
  const [error, setError] = useState('');
  useEffect(() => {
    const load = () =>
      listAudit({ workspace: id, limit: 500 })
        .then((r) => setRows(r.reverse()))
        .catch((e) => setError(errorMessage(e)));
    load();
    const t = setInterval(load, 5000);
    return () => clearInterval(t);
  }, [id]);
  return (
    <div class="agent-log activity">
      {error && <div class="error">{error}</div>}
      {rows.map((r) => (
        <div class={`step decision-${decisionClass(r.decision)}`}>
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
