// The audit log: newest first, filtered by workspace, actor, action prefix
// and time range, older rows on request; each row's detail expands. Admins
// see whether the hash chain verifies and can export it; everyone else
// reads the log of one of their workspaces at a time.
import { useEffect, useState } from 'preact/hooks';
import { errorMessage } from '../api/http';
import { exportAudit, listAudit, verifyAudit } from '../api/audit';
import { listWorkspaces } from '../api/workspaces';
import { listUsers } from '../api/users';
import type { AuditQuery, AuditRow, AuditVerification, Workspace } from '../api/types';
import { PageProps, Shell } from '../components/nav';
import { Field } from '../components/field';
import { formatTime } from '../format';
import { isAdmin } from '../roles';

const PAGE = 100;
/// `before` for the first page: newer than any row.
const NEWEST = Number.MAX_SAFE_INTEGER;

interface Filters {
  workspace: string;
  actor: string;
  action: string;
  from: string;
  to: string;
}

/// A `datetime-local` value as milliseconds since the epoch.
const ms = (v: string) => (v ? new Date(v).getTime() : undefined);

export function AuditPage(p: PageProps) {
  const admin = isAdmin(p.user);
  const [workspaces, setWorkspaces] = useState<Workspace[]>([]);
  const [filters, setFilters] = useState<Filters>({ workspace: '', actor: '', action: '', from: '', to: '' });
  const [applied, setApplied] = useState<Filters | null>(admin ? filters : null);
  const [rows, setRows] = useState<AuditRow[] | null>(null);
  const [more, setMore] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState('');
  const [open, setOpen] = useState<Set<number>>(new Set());
  const [verification, setVerification] = useState<AuditVerification | 'checking' | null>(null);
  const [exportError, setExportError] = useState('');
  const [people, setPeople] = useState<Record<string, string>>({ [p.user.id]: p.user.username });

  useEffect(() => {
    listWorkspaces()
      .then((l) => {
        setWorkspaces(l);
        // Others read one workspace at a time: start with the first.
        if (!admin && l.length) {
          const f = { ...filters, workspace: l[0].id };
          setFilters(f);
          setApplied(f);
        }
      })
      .catch((e) => setError(errorMessage(e)));
    if (admin) {
      listUsers()
        .then((us) => setPeople(Object.fromEntries(us.map((u) => [u.id, u.username]))))
        .catch(() => {});
      setVerification('checking');
      verifyAudit()
        .then(setVerification)
        .catch(() => setVerification(null));
    }
  }, []);

  const query = (f: Filters, before: number): AuditQuery => ({
    workspace: f.workspace || undefined,
    actor: f.actor.trim() || undefined,
    action: f.action.trim() || undefined,
    since: ms(f.from),
    until: ms(f.to),
    before,
    limit: PAGE,
  });

  const load = async (f: Filters, before: number) => {
    setLoading(true);
    setError('');
    try {
      const page = await listAudit(query(f, before));
      // Newest first whatever order the server used.
      page.sort((a, b) => b.seq - a.seq);
      setRows((old) => (before === NEWEST || !old ? page : [...old, ...page]));
      setMore(page.length === PAGE);
    } catch (e) {
      setError(errorMessage(e));
      if (before === NEWEST) setRows([]);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    if (applied) {
      setOpen(new Set());
      load(applied, NEWEST);
    }
  }, [applied]);

  const submit = (e: Event) => {
    e.preventDefault();
    setApplied({ ...filters });
  };
  const download = async () => {
    setExportError('');
    try {
      const blob = await exportAudit();
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = `aicockpit-audit-${new Date().toISOString().slice(0, 19).replace(/:/g, '')}.json`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setExportError(errorMessage(e));
    }
  };
  const toggle = (seq: number) =>
    setOpen((o) => {
      const n = new Set(o);
      if (n.has(seq)) n.delete(seq);
      else n.add(seq);
      return n;
    });
  const wsName = (id?: string | null) => (id ? workspaces.find((w) => w.id === id)?.name || id.slice(0, 8) : '');
  const oldest = rows && rows.length ? Math.min(...rows.map((r) => r.seq)) : null;

  return (
    <Shell
      {...p}
      title="Audit log"
      actions={
        admin && (
          <>
            <VerifyBadge v={verification} />
            <button onClick={download} title="The raw hash chain, to verify independently">
              Export
            </button>
          </>
        )
      }
    >
      {exportError && (
        <div class="error" role="alert">
          Export failed: {exportError}
        </div>
      )}
      <form class="card form filters" onSubmit={submit} aria-label="Filter the audit log">
        <div class="row top wrap">
          <Field label="Workspace">
            <select name="workspace" value={filters.workspace} onChange={(e) => setFilters({ ...filters, workspace: e.currentTarget.value })}>
              {admin && <option value="">all</option>}
              {!admin && workspaces.length === 0 && <option value="">you have no workspaces</option>}
              {workspaces.map((w) => (
                <option value={w.id}>{w.name}</option>
              ))}
            </select>
          </Field>
          <Field label="Actor">
            <input name="actor" list="audit-actors" placeholder="a username, agent:<run>, system" value={filters.actor} onInput={(e) => setFilters({ ...filters, actor: e.currentTarget.value })} />
            <datalist id="audit-actors">
              {Object.values(people).map((name) => (
                <option value={name} />
              ))}
              <option value="system" label="system" />
            </datalist>
          </Field>
          <Field label="Action starts with">
            <input name="action" placeholder="e.g. workspace. or ai.tool" value={filters.action} onInput={(e) => setFilters({ ...filters, action: e.currentTarget.value })} />
          </Field>
          <Field label="From">
            <input name="from" type="datetime-local" value={filters.from} onInput={(e) => setFilters({ ...filters, from: e.currentTarget.value })} />
          </Field>
          <Field label="To">
            <input name="to" type="datetime-local" value={filters.to} onInput={(e) => setFilters({ ...filters, to: e.currentTarget.value })} />
          </Field>
        </div>
        <div class="row">
          <button class="primary" type="submit" disabled={!admin && !filters.workspace}>
            Search
          </button>
          <button type="button" onClick={() => (setFilters({ workspace: admin ? '' : filters.workspace, actor: '', action: '', from: '', to: '' }))}>
            Clear
          </button>
        </div>
      </form>
      {!admin && <p class="muted small">You see the log of your own workspaces, one at a time.</p>}
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      {rows === null ? (
        (loading || admin || workspaces.length > 0) && <p class="muted">Loading…</p>
      ) : rows.length === 0 ? (
        <p class="muted">No entries match.</p>
      ) : (
        <table class="ws-table audit" data-testid="audit-rows">
          <thead>
            <tr>
              <th>#</th>
              <th>Time</th>
              <th>Actor</th>
              <th>Action</th>
              <th>Workspace</th>
              <th>Outcome</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => [
              <tr key={r.seq} class="audit-row" data-action={r.action}>
                <td class="num">
                  <button class="icon" aria-expanded={open.has(r.seq)} aria-label={`Details of entry ${r.seq}`} onClick={() => toggle(r.seq)}>
                    {open.has(r.seq) ? '▾' : '▸'} {r.seq}
                  </button>
                </td>
                <td class="small">{formatTime(r.at)}</td>
                <td class="small" title={r.actor}>
                  {people[r.actor] || <span class="mono">{r.actor.length > 20 ? r.actor.slice(0, 20) + '…' : r.actor}</span>}
                </td>
                <td class="mono">{r.action}</td>
                <td>{wsName(r.workspace_id)}</td>
                <td class="small">
                  {r.decision && <span class={`badge decision-${r.decision}`}>{r.decision}</span>} {r.approved_by && `by ${r.approved_by} `}
                  {r.result}
                </td>
              </tr>,
              open.has(r.seq) && (
                <tr key={r.seq + '-detail'}>
                  <td colSpan={6}>
                    <pre class="detail">{JSON.stringify(r, null, 2)}</pre>
                  </td>
                </tr>
              ),
            ])}
          </tbody>
        </table>
      )}
      {rows && more && applied && (
        <div class="row">
          <button onClick={() => oldest !== null && load(applied, oldest)} disabled={loading}>
            {loading ? 'Loading…' : 'Load older'}
          </button>
        </div>
      )}
    </Shell>
  );
}

function VerifyBadge({ v }: { v: AuditVerification | 'checking' | null }) {
  if (v === null) return null;
  if (v === 'checking') return <span class="badge">verifying…</span>;
  return v.ok ? (
    <span class="badge good" data-testid="audit-verified" title={`${v.rows} rows checked`}>
      chain verified · {v.rows} rows
    </span>
  ) : (
    <span class="badge bad" data-testid="audit-broken" title={v.broken_reason || ''}>
      chain broken at #{v.broken_seq}: {v.broken_reason}
    </span>
  );
}
