// Onboarding: when no AI service is configured yet, say so — with the way to
// add one for admins, and whom to ask for everyone else.
import { useEffect, useState } from 'preact/hooks';
import { listServices } from '../api/ai';
import { Link } from './nav';

export function NoAiService({ admin, compact }: { admin: boolean; compact?: boolean }) {
  const [none, setNone] = useState(false);
  useEffect(() => {
    listServices()
      .then((l) => setNone(l.length === 0))
      .catch(() => setNone(false));
  }, []);
  if (!none) return null;
  return (
    <div class={`notice ${compact ? 'small' : ''}`} data-testid="no-ai-service">
      No AI service is configured yet, so chat, completions and the agent cannot answer.{' '}
      {admin ? <Link href="/admin/ai">Add one under AI services</Link> : <span>Ask an admin to add one.</span>}
    </div>
  );
}
