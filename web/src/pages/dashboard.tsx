// The dashboard: every workspace with live state and resource use, create,
// start/stop/restart/delete, recent workspaces.
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api/http';
import { changeState, deleteWorkspace, listWorkspaces, usage as workspaceUsage } from '../api/workspaces';
import { myQuota } from '../api/quota';
import type { Quota, Usage, User, Workspace } from '../api/types';
import { formatBytes } from '../format';
import { idePath, navigate, recentWorkspaces } from '../router';
import { CreateDialog } from '../components/create-dialog';
import { Confirm } from '../components/confirm';
import { Nav } from '../components/nav';
import { NoAiService } from '../components/no-ai-service';
import { isAdmin } from '../roles';
import { Saved } from '../components/saved';
import { NameDialog } from '../components/name-dialog';
import { takeSnapshot } from '../api/snapshots';

export function Dashboard({ user, onLogout, onSwitch }: { user: User; onLogout: () => void; onSwitch: () => void }) {
  const [list, setList] = useState<Workspace[] | null>(null);
  const [usage, setUsage] = useState<Record<string, Usage>>({});
  const [error, setError] = useState('');
  const [creating, setCreating] = useState(false);
  const [busy, setBusy] = useState<Record<string, string>>({});
  const [deleting, setDeleting] = useState<Workspace | null>(null);
  const [quota, setQuota] = useState<Quota | null>(null);
  const [snapshotting, setSnapshotting] = useState<Workspace | null>(null);
  // Bumped when what the saved-data section lists may have changed.
  const [savedVersion, setSavedVersion] = useState(0);

  const refresh = async () => {
    try {
      const l = await listWorkspaces();
      setList(l);
      setError('');
      const running = l.filter((w) => w.state === 'running');
      const entries = await Promise.all(
        running.map(async (w) => [w.id, await workspaceUsage(w.id).catch((): Usage => ({ running: false }))] as const),
      );
      setUsage(Object.fromEntries(entries));
      setQuota(await myQuota().catch(() => null));
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  };

  useEffect(() => {
    refresh();
    const t = setInterval(refresh, 3000);
    return () => clearInterval(t);
  }, []);

  const act = async (w: Workspace, verb: 'start' | 'stop' | 'restart') => {
    setBusy((b) => ({ ...b, [w.id]: verb }));
    try {
      await changeState(w.id, verb);
      await refresh();
    } catch (e) {
      setError(`${w.name}: ${e instanceof ApiError ? e.message : e}`);
    } finally {
      setBusy((b) => {
        const { [w.id]: _, ...rest } = b;
        return rest;
      });
    }
  };

  const remove = async (w: Workspace, purge: boolean) => {
    setDeleting(null);
    setBusy((b) => ({ ...b, [w.id]: 'delete' }));
    try {
      await deleteWorkspace(w.id, purge);
      await refresh();
      setSavedVersion((v) => v + 1);
    } catch (e) {
      setError(`${w.name}: ${e instanceof ApiError ? e.message : e}`);
    }
  };

  const snapshot = async (w: Workspace, name: string) => {
    setSnapshotting(null);
    setBusy((b) => ({ ...b, [w.id]: 'snapshot' }));
    try {
      await takeSnapshot(w.id, name);
      setSavedVersion((v) => v + 1);
    } catch (e) {
      setError(`${w.name}: ${e instanceof ApiError ? e.message : e}`);
    } finally {
      setBusy((b) => {
        const { [w.id]: _, ...rest } = b;
        return rest;
      });
    }
  };

  const recent = recentWorkspaces()
    .map((id) => list?.find((w) => w.id === id))
    .filter((w): w is Workspace => !!w);

  return (
    <div class="page">
      <Nav user={user} onLogout={onLogout} onSwitch={onSwitch} />
      <main class="content">
        <div class="row">
          <h2>Workspaces</h2>
          <span class="spacer" />
          <button class="primary" onClick={() => setCreating(true)} disabled={user.role === 'viewer'}>
            New workspace
          </button>
        </div>
        {quota && <QuotaLine q={quota} />}
        <NoAiService admin={isAdmin(user)} />
        {error && (
          <div class="error" role="alert">
            {error}
          </div>
        )}
        {recent.length > 0 && (
          <div class="recent">
            <span class="muted">Recent:</span>
            {recent.map((w) => (
              <a href={idePath(w.id)} onClick={(e) => (e.preventDefault(), navigate(idePath(w.id)))}>
                {w.name}
              </a>
            ))}
          </div>
        )}
        {list === null ? (
          <p class="muted">Loading…</p>
        ) : list.length === 0 ? (
          <div class="empty card">
            <p>No workspaces yet.</p>
            <button class="primary" onClick={() => setCreating(true)}>
              Create your first workspace
            </button>
          </div>
        ) : (
          <table class="ws-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>State</th>
                <th>Template</th>
                <th>CPU</th>
                <th>Memory</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.map((w) => {
                const u = usage[w.id];
                const b = busy[w.id];
                return (
                  <tr key={w.id} data-workspace={w.name}>
                    <td>
                      <a class="ws-name" href={idePath(w.id)} onClick={(e) => (e.preventDefault(), navigate(idePath(w.id)))}>
                        {w.name}
                      </a>
                    </td>
                    <td>
                      <span class={`state state-${w.state}`} title={w.state_reason || ''}>
                        {b ? `${b}…` : w.state}
                      </span>
                      {w.state_reason && <div class="muted small">{w.state_reason}</div>}
                    </td>
                    <td>{w.template || w.image}</td>
                    <td class="num">
                      {u?.running && u.cpu_percent != null ? `${u.cpu_percent.toFixed(1)} %` : '–'}
                      <div class="muted small">of {w.limits.cpus} CPU</div>
                    </td>
                    <td class="num">
                      {u?.running && u.memory_bytes != null ? formatBytes(u.memory_bytes) : '–'}
                      <div class="muted small">of {w.limits.memory_mb} MiB</div>
                    </td>
                    <td class="actions">
                      <button onClick={() => navigate(idePath(w.id))} disabled={w.state !== 'running'}>
                        Open
                      </button>
                      {w.state === 'running' ? (
                        <button onClick={() => act(w, 'stop')} disabled={!!b}>
                          Stop
                        </button>
                      ) : (
                        <button onClick={() => act(w, 'start')} disabled={!!b}>
                          Start
                        </button>
                      )}
                      <button onClick={() => act(w, 'restart')} disabled={!!b}>
                        Restart
                      </button>
                      <button onClick={() => navigate(`/policy/${encodeURIComponent(w.id)}`)} title="The agent's permissions in this workspace">
                        Policy
                      </button>
                      <button
                        onClick={() => setSnapshotting(w)}
                        disabled={!!b || user.role === 'viewer' || !w.container_id}
                        title="Keep this whole environment: installed packages, /workspace and settings"
                      >
                        Snapshot
                      </button>
                      <button class="danger" onClick={() => setDeleting(w)} disabled={!!b}>
                        Delete
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
        {list !== null && (
          <Saved workspaces={list} readOnly={user.role === 'viewer'} version={savedVersion} onChanged={refresh} />
        )}
      </main>
      {snapshotting && (
        <NameDialog
          title={`Snapshot ${snapshotting.name}`}
          label="Snapshot name"
          initial={`${snapshotting.name}-${new Date().toISOString().slice(0, 10)}`}
          confirm="Take snapshot"
          onCancel={() => setSnapshotting(null)}
          onConfirm={(name) => snapshot(snapshotting, name)}
        />
      )}
      {creating && (
        <CreateDialog
          onClose={() => setCreating(false)}
          onCreated={(w) => {
            setCreating(false);
            refresh();
            navigate(idePath(w.id));
          }}
        />
      )}
      {deleting && (
        <Confirm
          title={`Delete ${deleting.name}?`}
          body="The container is removed. Its /workspace data is kept unless you also remove it."
          option="Also delete the /workspace data (cannot be undone)"
          confirm="Delete"
          onCancel={() => setDeleting(null)}
          onConfirm={(purge) => remove(deleting, purge)}
        />
      )}
    </div>
  );
}

/// The caller's quota and what they hold ("3 of 5 workspaces · …"); limits
/// of 0 are no limit and are left out.
function QuotaLine({ q }: { q: Quota }) {
  const parts: string[] = [];
  const part = (used: number, limit: number, what: string) => {
    if (limit > 0) parts.push(`${used} of ${limit} ${what}`);
  };
  part(q.used.workspaces, q.limits.workspaces, 'workspaces');
  part(q.used.running, q.limits.running, 'running');
  part(q.used.cpus, q.limits.cpus, 'CPUs');
  part(q.used.memory_mb, q.limits.memory_mb, 'MiB of memory');
  if (!parts.length) return null;
  return (
    <p class="muted small" data-testid="quota">
      Your quota: {parts.join(' · ')}
    </p>
  );
}
