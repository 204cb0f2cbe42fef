// The workspace's devcontainer.json as the server applied it, and
// rebuilding from it (the configuration is read again from /workspace; the
// container is made again on the same data).
import { useState } from 'preact/hooks';
import { errorMessage } from '../api/http';
import { getWorkspace, rebuildWorkspace } from '../api/workspaces';
import type { Devcontainer, Workspace } from '../api/types';
import { Modal } from './modal';
import { followSetup, PHASES, SetupLog } from './setup-log';

/// `onBusy` is told while the container is being made again (nothing in
/// it answers meanwhile).
export function DevcontainerStatus({ id, dc, onRebuilt, onBusy }: { id: string; dc: Devcontainer | null; onRebuilt: (w: Workspace) => void; onBusy: (busy: boolean) => void }) {
  const [open, setOpen] = useState(false);
  const [rebuilding, setRebuilding] = useState(false);
  const [log, setLog] = useState<string[]>([]);
  const [step, setStep] = useState('');
  const [problem, setProblem] = useState('');
  const rebuild = async () => {
    setProblem('');
    setLog([]);
    setRebuilding(true);
    onBusy(true);
    try {
      await rebuildWorkspace(id);
      const failed = await followSetup(id, (lines, phase) => {
        setLog(lines);
        setStep(PHASES[phase] || 'Rebuilding…');
      });
      if (failed) setProblem(`The rebuild failed: ${failed}`);
      else setStep('Rebuilt.');
      onRebuilt(await getWorkspace(id));
    } catch (e) {
      setProblem(errorMessage(e));
    }
    setRebuilding(false);
    onBusy(false);
  };
  return (
    <span class="ports">
      <span class="port">
        <button class="ghost small" data-testid="devcontainer" aria-expanded={open} onClick={() => setOpen(!open)} title="The devcontainer.json this workspace was made from">
          {dc ? `Dev container${dc.name ? `: ${dc.name}` : ''}` : 'No dev container'}
        </button>
        {open && (
          <span class="port-menu card devcontainer-menu" role="menu">
            {dc ? (
              <dl class="small" data-testid="devcontainer-facts">
                <dt>From</dt>
                <dd>{dc.path}</dd>
                <dt>Image</dt>
                <dd>{dc.image || `built from ${dc.dockerfile} (context ${dc.build_context})`}</dd>
                {dc.remote_user && (
                  <>
                    <dt>User</dt>
                    <dd>{dc.remote_user}</dd>
                  </>
                )}
                {Object.keys(dc.container_env).length > 0 && (
                  <>
                    <dt>Environment</dt>
                    <dd>
                      {Object.entries(dc.container_env).map(([k, v]) => (
                        <div>
                          <code>
                            {k}={v}
                          </code>
                        </div>
                      ))}
                    </dd>
                  </>
                )}
                {dc.forward_ports.length > 0 && (
                  <>
                    <dt>Forwarded ports</dt>
                    <dd>{dc.forward_ports.map((p) => `${p.port}${p.label ? ` (${p.label})` : ''}`).join(', ')}</dd>
                  </>
                )}
                {dc.lifecycle.length > 0 && (
                  <>
                    <dt>Lifecycle</dt>
                    <dd>{dc.lifecycle.join(' → ')}</dd>
                  </>
                )}
                {dc.notes.map((n) => (
                  <dd class="muted">{n}</dd>
                ))}
              </dl>
            ) : (
              <span class="small muted">No devcontainer.json was applied. Add one to /workspace and rebuild.</span>
            )}
            <button class="small" role="menuitem" onClick={() => (setOpen(false), rebuild())} disabled={rebuilding}>
              Rebuild container
            </button>
          </span>
        )}
      </span>
      {(rebuilding || problem || log.length > 0) && (
        <Modal title="Rebuild" onClose={rebuilding ? () => {} : () => (setLog([]), setProblem(''))}>
          <p class="small" data-testid="setup-step">
            {rebuilding && <span class="spinner" />} {step}
          </p>
          <SetupLog lines={log} label="Rebuild progress" />
          {problem && (
            <div class="error" role="alert">
              {problem}
            </div>
          )}
          <div class="row end">
            <button type="button" disabled={rebuilding} onClick={() => (setLog([]), setProblem(''))}>
              Close
            </button>
          </div>
        </Modal>
      )}
      <span class="sep" />
    </span>
  );
}
