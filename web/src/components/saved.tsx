// The dashboard's saved environments: snapshots (fork, restore, export,
// delete; import an archive from another server) and deleted workspaces'
// kept data (start a new workspace with it, or purge it).
import { useEffect, useState } from 'preact/hooks';
import { errorMessage } from '../api/http';
import {
  createFromKept,
  deleteSnapshot,
  exportLink,
  forkSnapshot,
  importSnapshot,
  listKept,
  listSnapshots,
  purgeKept,
  restoreSnapshot,
} from '../api/snapshots';
import type { KeptData, Snapshot, Workspace } from '../api/types';
import { formatTime } from '../format';
import { Confirm } from './confirm';
import { NameDialog } from './name-dialog';

type Ask =
  | { kind: 'fork'; snap: Snapshot }
  | { kind: 'restore'; snap: Snapshot }
  | { kind: 'delete'; snap: Snapshot }
  | { kind: 'attach'; kept: KeptData }
  | { kind: 'purge'; kept: KeptData };

export function Saved(props: { workspaces: Workspace[]; readOnly: boolean; version: number; onChanged: () => void }) {
  const [snaps, setSnaps] = useState<Snapshot[]>([]);
  const [kept, setKept] = useState<KeptData[]>([]);
  const [ask, setAsk] = useState<Ask | null>(null);
  const [busy, setBusy] = useState('');
  const [error, setError] = useState('');

  const refresh = async () => {
    try {
      const [s, k] = await Promise.all([listSnapshots(), listKept()]);
      setSnaps(s);
      setKept(k);
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  useEffect(() => {
    refresh();
  }, [props.version]);

  const run = async (what: string, f: () => Promise<unknown>) => {
    setAsk(null);
    setBusy(what);
    setError('');
    try {
      await f();
      await refresh();
      props.onChanged();
    } catch (e) {
      setError(`${what}: ${errorMessage(e)}`);
    } finally {
      setBusy('');
    }
  };

  // The browser downloads it itself: streamed to disk, with its own
  // progress, never held in this page's memory.
  const download = (s: Snapshot) =>
    run(`Exporting ${s.name}`, async () => {
      const a = document.createElement('a');
      a.href = await exportLink(s.id);
      a.download = `${s.name}.aicockpit-snapshot.tar`;
      a.click();
    });

  const live = (s: Snapshot) => props.workspaces.some((w) => w.id === s.workspace_id);

  return (
    <section class="saved">
      <div class="row">
        <h3>Snapshots</h3>
        <span class="spacer" />
        {busy && <span class="muted small" role="status">{busy}…</span>}
        <label class={`button ${props.readOnly ? 'disabled' : ''}`}>
          Import…
          <input
            type="file"
            name="snapshot-archive"
            hidden
            disabled={props.readOnly}
            accept=".tar,application/x-tar"
            onChange={(e) => {
              const f = e.currentTarget.files?.[0];
              e.currentTarget.value = '';
              if (f)
                run(`Importing ${f.name}`, () =>
                  importSnapshot(f, (sent) =>
                    setBusy(
                      sent < 1
                        ? `Importing ${f.name}: ${Math.round(sent * 100)}% sent`
                        : `Importing ${f.name}: sent, the server is loading it`,
                    ),
                  ),
                );
            }}
          />
        </label>
      </div>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      {snaps.length === 0 ? (
        <p class="muted small">No snapshots. “Snapshot” on a workspace keeps its whole environment: installed packages, /workspace and settings.</p>
      ) : (
        <table class="ws-table" data-testid="snapshots">
          <tbody>
            {snaps.map((s) => (
              <tr key={s.id} data-snapshot={s.name}>
                <td>{s.name}</td>
                <td class="muted">of {s.workspace_name}</td>
                <td class="muted small">{formatTime(s.created_at)}</td>
                <td class="actions">
                  <button onClick={() => setAsk({ kind: 'fork', snap: s })} disabled={props.readOnly || !!busy}>
                    Fork
                  </button>
                  {live(s) && (
                    <button onClick={() => setAsk({ kind: 'restore', snap: s })} disabled={props.readOnly || !!busy}>
                      Restore
                    </button>
                  )}
                  <button onClick={() => download(s)} disabled={!!busy}>
                    Export
                  </button>
                  <button class="danger" onClick={() => setAsk({ kind: 'delete', snap: s })} disabled={props.readOnly || !!busy}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {kept.length > 0 && (
        <>
          <h3>Kept data of deleted workspaces</h3>
          <table class="ws-table" data-testid="kept">
            <tbody>
              {kept.map((k) => (
                <tr key={k.workspace} data-kept={k.name}>
                  <td>{k.name}</td>
                  <td class="muted small">{k.created_at ? formatTime(k.created_at) : ''}</td>
                  <td class="actions">
                    <button onClick={() => setAsk({ kind: 'attach', kept: k })} disabled={props.readOnly || !!busy}>
                      New workspace with it
                    </button>
                    <button class="danger" onClick={() => setAsk({ kind: 'purge', kept: k })} disabled={props.readOnly || !!busy}>
                      Purge
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {ask?.kind === 'fork' && (
        <NameDialog
          title={`Fork ${ask.snap.name}`}
          label="New workspace name"
          initial={`${ask.snap.workspace_name}-fork`}
          confirm="Fork"
          onCancel={() => setAsk(null)}
          onConfirm={(name) => run(`Forking ${ask.snap.name}`, () => forkSnapshot(ask.snap.id, name))}
        />
      )}
      {ask?.kind === 'attach' && (
        <NameDialog
          title={`New workspace with ${ask.kept.name}'s data`}
          label="New workspace name"
          initial={ask.kept.name}
          confirm="Create"
          onCancel={() => setAsk(null)}
          onConfirm={(name) => run(`Creating ${name}`, () => createFromKept(ask.kept.workspace, name))}
        />
      )}
      {ask?.kind === 'restore' && (
        <Confirm
          title={`Restore ${ask.snap.workspace_name} to ${ask.snap.name}?`}
          body="Its filesystem and /workspace go back to the snapshot; what is there now is discarded."
          confirm="Restore"
          onCancel={() => setAsk(null)}
          onConfirm={() => run(`Restoring ${ask.snap.workspace_name}`, () => restoreSnapshot(ask.snap.workspace_id, ask.snap.id))}
        />
      )}
      {ask?.kind === 'delete' && (
        <Confirm
          title={`Delete snapshot ${ask.snap.name}?`}
          body="Its image and data copy are removed."
          confirm="Delete"
          onCancel={() => setAsk(null)}
          onConfirm={() => run(`Deleting ${ask.snap.name}`, () => deleteSnapshot(ask.snap.id))}
        />
      )}
      {ask?.kind === 'purge' && (
        <Confirm
          title={`Purge ${ask.kept.name}'s data?`}
          body="The deleted workspace's /workspace data is removed for good."
          confirm="Purge"
          onCancel={() => setAsk(null)}
          onConfirm={() => run(`Purging ${ask.kept.name}`, () => purgeKept(ask.kept.workspace))}
        />
      )}
    </section>
  );
}
