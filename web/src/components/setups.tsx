// The workspace's setups kept by the server (the clone, rebuilds, each
// start's commands, dotfiles), in the status bar: the newest one flagged
// when it failed, and every log readable after the fact — a workspace whose
// clone failed is opened anyway, and its log must still be there to read.
import { useEffect, useRef, useState } from 'preact/hooks';
import { errorMessage } from '../api/http';
import { getSetup, listSetups } from '../api/workspaces';
import type { Setup, SetupSummary } from '../api/types';
import { Modal } from './modal';
import { SetupLog } from './setup-log';

const KINDS: Record<string, string> = {
  git_clone: 'Clone',
  rebuild: 'Rebuild',
  post_start: 'Start commands',
  dotfiles: 'Dotfiles',
};

/// `version` changes when a new setup may have been kept (a start, a
/// rebuild): the list is read again then.
export function SetupHistory({ id, version }: { id: string; version: string }) {
  const [list, setList] = useState<SetupSummary[]>([]);
  const [open, setOpen] = useState(false);
  const [shown, setShown] = useState<Setup | null>(null);
  const [problem, setProblem] = useState('');
  // The last one asked for is the one shown (answers may cross).
  const asked = useRef(0);
  const latest = list[list.length - 1];
  const underWay = latest?.state === 'running';
  // Read again when told, and every few seconds while the newest setup is
  // under way (start commands fail after the IDE has opened).
  useEffect(() => {
    let stop = false;
    const read = () =>
      listSetups(id)
        .then((l) => !stop && setList(l))
        .catch(() => !stop && setList([]));
    read();
    const t = underWay ? setInterval(read, 3000) : undefined;
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [id, version, underWay]);
  if (!latest) return null;
  const failed = latest.state === 'failed';
  const show = (s: SetupSummary) => {
    asked.current = s.started_ms;
    getSetup(id, 0, s.started_ms)
      .then((x) => asked.current === s.started_ms && (setShown(x), setProblem('')))
      .catch((e) => setProblem(errorMessage(e)));
  };
  const openList = () => {
    setOpen(true);
    setShown(null);
    listSetups(id)
      .then((l) => {
        setList(l);
        // The failure is what one comes for: shown at once.
        const last = l[l.length - 1];
        if (last?.state === 'failed') show(last);
      })
      .catch((e) => setProblem(errorMessage(e)));
  };
  return (
    <>
      <button class={`ghost small${failed ? ' danger' : ''}`} data-testid="setup-history" onClick={openList} title="The setups kept: clone, rebuilds, start commands, dotfiles">
        {failed ? `⚠ ${KINDS[latest.kind] || latest.kind} failed` : `Setups (${list.length})`}
      </button>
      <span class="sep" />
      {open && (
        <Modal title="Setups" onClose={() => setOpen(false)}>
          <ul class="setup-list" role="list">
            {[...list].reverse().map((s) => (
              <li key={s.started_ms}>
                <button class={`ghost small${shown?.started_ms === s.started_ms ? ' active' : ''}`} onClick={() => show(s)} data-testid="setup-entry">
                  {KINDS[s.kind] || s.kind} · {new Date(s.started_ms).toLocaleString()} · <span class={`state-${s.state}`}>{s.state}</span>
                  {s.error_code ? ` (${s.error_code})` : ''}
                </button>
                <span class="muted small"> {s.source}</span>
              </li>
            ))}
          </ul>
          {shown && (
            <>
              {shown.error && (
                <div class="error" role="alert">
                  {shown.error}
                </div>
              )}
              <SetupLog lines={shown.lines} label="Setup log" />
            </>
          )}
          {problem && (
            <div class="error" role="alert">
              {problem}
            </div>
          )}
          <div class="row end">
            <button type="button" onClick={() => setOpen(false)}>
              Close
            </button>
          </div>
        </Modal>
      )}
    </>
  );
}
