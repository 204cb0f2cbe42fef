// The agent's permission policy editor: the default for new workspaces
// (`/policy`, admins) or one workspace's (`/policy/<workspace>`). Per tool
// allow / ask / deny, command rules, path rules, network; Save and Revert;
// and "try a command line", judged by the server under the policy as edited.
import { useEffect, useState } from 'preact/hooks';
import { errorMessage } from '../api/http';
import { checkCommand, getDefaultPolicy, getPolicy, putDefaultPolicy, putPolicy } from '../api/policies';
import { getWorkspace } from '../api/workspaces';
import type { Decision, Policy, Verdict } from '../api/types';
import { Link, PageProps, Shell } from '../components/nav';
import { FieldErrors, FormError } from '../components/field';
import { idePath } from '../router';

const TOOLS: { tool: string; label: string }[] = [
  { tool: 'list_files', label: 'List files' },
  { tool: 'read_file', label: 'Read a file' },
  { tool: 'search', label: 'Search' },
  { tool: 'write_file', label: 'Write a file' },
  { tool: 'edit_file', label: 'Edit a file' },
  { tool: 'delete_file', label: 'Delete a file' },
  { tool: 'run_command', label: 'Run a command' },
];
const DECISIONS: Decision[] = ['allow', 'ask', 'deny'];

/// A copy with every list present (the server may leave empty ones out).
const normal = (p: Policy): Policy => ({ tools: { ...p.tools }, commands: [...(p.commands || [])], paths: [...(p.paths || [])], network: !!p.network });

function DecisionSelect(props: { value: Decision | null | undefined; label: string; inherit?: boolean; onChange: (d: Decision | null) => void }) {
  return (
    <select
      aria-label={props.label}
      class={`decision-select decision-${props.value || 'inherit'}`}
      value={props.value || ''}
      onChange={(e) => props.onChange((e.currentTarget.value || null) as Decision | null)}
    >
      {props.inherit && <option value="">inherit</option>}
      {DECISIONS.map((d) => (
        <option value={d}>{d}</option>
      ))}
    </select>
  );
}

export function PolicyPage(p: PageProps) {
  const ws = p.params.workspace as string | undefined;
  const [saved, setSaved] = useState<Policy | null>(null);
  const [policy, setPolicy] = useState<Policy | null>(null);
  const [title, setTitle] = useState(ws ? 'Agent policy' : 'Default agent policy');
  const [wsId, setWsId] = useState(ws || '');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [loadError, setLoadError] = useState('');
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState('');

  useEffect(() => {
    setPolicy(null);
    setLoadError('');
    (ws ? getPolicy(ws) : getDefaultPolicy())
      .then((pol) => {
        setSaved(normal(pol));
        setPolicy(normal(pol));
      })
      .catch((e) => setLoadError(errorMessage(e)));
    if (ws)
      getWorkspace(ws)
        .then((w) => (setTitle(`Agent policy of ${w.name}`), setWsId(w.id)))
        .catch(() => {});
  }, [ws]);

  const dirty = !!policy && JSON.stringify(policy) !== JSON.stringify(saved);
  const edit = (f: (p: Policy) => Policy) => {
    setStatus('');
    setPolicy((x) => (x ? f(normal(x)) : x));
  };

  const save = async (e: Event) => {
    e.preventDefault();
    if (!policy) return;
    const errs: FieldErrors = {};
    policy.commands!.forEach((c, i) => {
      if (!c.pattern.trim()) errs[`command-${i}`] = 'A rule needs the words a command starts with.';
    });
    policy.paths!.forEach((r, i) => {
      if (!r.glob.trim()) errs[`path-${i}`] = 'A rule needs a glob.';
      else if (!r.read && !r.write) errs[`path-${i}`] = 'Choose a decision for reading or writing (or remove the rule).';
    });
    if (Object.keys(errs).length) return setErrors(errs);
    setBusy(true);
    setErrors({});
    try {
      const body: Policy = {
        ...policy,
        commands: policy.commands!.map((c) => ({ ...c, pattern: c.pattern.trim() })),
        paths: policy.paths!.map((r) => ({ glob: r.glob.trim(), ...(r.read ? { read: r.read } : {}), ...(r.write ? { write: r.write } : {}) })),
      };
      const r = normal(ws ? await putPolicy(ws, body) : await putDefaultPolicy(body));
      setSaved(r);
      setPolicy(r);
      setStatus('Saved.');
    } catch (err) {
      setErrors({ '': errorMessage(err) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <Shell {...p} title={title}>
      {ws ? (
        <p class="muted">
          What the AI agent may do in this workspace without asking. <Link href={idePath(wsId || ws)}>Open the workspace</Link>
        </p>
      ) : (
        <p class="muted">The policy new workspaces start with. Each workspace's own can be changed from the dashboard or the IDE.</p>
      )}
      {loadError && (
        <div class="error" role="alert">
          {loadError}
        </div>
      )}
      {!policy ? (
        !loadError && <p class="muted">Loading…</p>
      ) : (
        <div class="policy-layout">
          <form class="form" onSubmit={save} data-testid="policy-form">
            <section class="card section">
              <h3>Tools</h3>
              <p class="muted small">The decision when no rule below says more.</p>
              <table class="kv">
                {TOOLS.map((t) => (
                  <tr>
                    <td>
                      {t.label} <span class="muted small mono">{t.tool}</span>
                    </td>
                    <td>
                      <DecisionSelect
                        label={t.tool}
                        value={policy.tools[t.tool] || 'ask'}
                        onChange={(d) => edit((x) => ({ ...x, tools: { ...x.tools, [t.tool]: d || 'ask' } }))}
                      />
                    </td>
                  </tr>
                ))}
              </table>
              <label class="check">
                <input type="checkbox" name="network" checked={!!policy.network} onChange={(e) => edit((x) => ({ ...x, network: e.currentTarget.checked }))} /> Commands run
                without approval may use the network
              </label>
            </section>

            <section class="card section">
              <h3>Command rules</h3>
              <p class="muted small">
                Matched on the words a command starts with (<code>git status</code> never matches <code>git push</code>); the longest matching rule decides.
              </p>
              {policy.commands!.map((c, i) => (
                <div class="rule">
                  <div class="row">
                    <input
                      class="mono"
                      aria-label={`Command rule ${i + 1} pattern`}
                      placeholder="e.g. npm test"
                      value={c.pattern}
                      onInput={(e) => {
                        const v = e.currentTarget.value;
                        edit((x) => ({ ...x, commands: x.commands!.map((r, j) => (j === i ? { ...r, pattern: v } : r)) }));
                      }}
                    />
                    <DecisionSelect
                      label={`Command rule ${i + 1} decision`}
                      value={c.decision}
                      onChange={(d) => edit((x) => ({ ...x, commands: x.commands!.map((r, j) => (j === i ? { ...r, decision: d || 'ask' } : r)) }))}
                    />
                    <button type="button" aria-label={`Remove command rule ${i + 1}`} onClick={() => edit((x) => ({ ...x, commands: x.commands!.filter((_, j) => j !== i) }))}>
                      Remove
                    </button>
                  </div>
                  {errors[`command-${i}`] && (
                    <div class="field-error" role="alert">
                      {errors[`command-${i}`]}
                    </div>
                  )}
                </div>
              ))}
              <div>
                <button type="button" onClick={() => edit((x) => ({ ...x, commands: [...x.commands!, { pattern: '', decision: 'ask' }] }))}>
                  Add a command rule
                </button>
              </div>
            </section>

            <section class="card section">
              <h3>Path rules</h3>
              <p class="muted small">
                Globs relative to /workspace (<code>src/**</code>) or absolute; the most specific matching rule decides reading and writing. “inherit” leaves it to the tool's decision.
              </p>
              {policy.paths!.map((r, i) => (
                <div class="rule">
                  <div class="row">
                    <input
                      class="mono"
                      aria-label={`Path rule ${i + 1} glob`}
                      placeholder="e.g. .env*"
                      value={r.glob}
                      onInput={(e) => {
                        const v = e.currentTarget.value;
                        edit((x) => ({ ...x, paths: x.paths!.map((q, j) => (j === i ? { ...q, glob: v } : q)) }));
                      }}
                    />
                    <span class="muted small">read</span>
                    <DecisionSelect
                      inherit
                      label={`Path rule ${i + 1} read`}
                      value={r.read}
                      onChange={(d) => edit((x) => ({ ...x, paths: x.paths!.map((q, j) => (j === i ? { ...q, read: d } : q)) }))}
                    />
                    <span class="muted small">write</span>
                    <DecisionSelect
                      inherit
                      label={`Path rule ${i + 1} write`}
                      value={r.write}
                      onChange={(d) => edit((x) => ({ ...x, paths: x.paths!.map((q, j) => (j === i ? { ...q, write: d } : q)) }))}
                    />
                    <button type="button" aria-label={`Remove path rule ${i + 1}`} onClick={() => edit((x) => ({ ...x, paths: x.paths!.filter((_, j) => j !== i) }))}>
                      Remove
                    </button>
                  </div>
                  {errors[`path-${i}`] && (
                    <div class="field-error" role="alert">
                      {errors[`path-${i}`]}
                    </div>
                  )}
                </div>
              ))}
              <div>
                <button type="button" onClick={() => edit((x) => ({ ...x, paths: [...x.paths!, { glob: '', write: 'ask' }] }))}>
                  Add a path rule
                </button>
              </div>
            </section>

            <FormError errors={errors} />
            <div class="row sticky-actions">
              <button class="primary" type="submit" disabled={busy || !dirty}>
                {busy ? 'Saving…' : 'Save'}
              </button>
              <button type="button" disabled={!dirty} onClick={() => (setPolicy(saved), setErrors({}), setStatus(''))}>
                Revert
              </button>
              {dirty && <span class="muted">Unsaved changes</span>}
              {status && (
                <span class="muted" role="status">
                  {status}
                </span>
              )}
            </div>
          </form>
          <TryCommand policy={policy} />
        </div>
      )}
    </Shell>
  );
}

/// The server's verdict on a command line under the policy as edited (never
/// judged here: the server's judge reads the line with a real shell grammar).
function TryCommand({ policy }: { policy: Policy }) {
  const [command, setCommand] = useState('');
  const [verdict, setVerdict] = useState<(Verdict & { command: string }) | null>(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const check = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const v = await checkCommand({ policy, command });
      setVerdict({ ...v, command });
    } catch (err) {
      setVerdict(null);
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const stale = verdict && verdict.command !== command;
  return (
    <aside class="card section try" data-testid="try-command">
      <h3>Try a command line</h3>
      <p class="muted small">What the agent would be told for this line under the policy as edited here (saved or not).</p>
      <form class="form" onSubmit={check}>
        <label>
          Command line
          <input class="mono" name="command" placeholder="e.g. git status && npm test" value={command} onInput={(e) => setCommand(e.currentTarget.value)} />
        </label>
        <div class="row">
          <button type="submit" disabled={busy || !command.trim()}>
            {busy ? 'Checking…' : 'Check'}
          </button>
        </div>
      </form>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      {verdict && (
        <div class={`verdict decision-${verdict.decision} ${stale ? 'stale' : ''}`} role="status" data-testid="verdict">
          <span class={`badge decision-${verdict.decision}`} data-decision={verdict.decision}>
            {verdict.decision}
          </span>{' '}
          <span class="mono small">{verdict.command}</span>
          <div class="small">{verdict.reason}</div>
        </div>
      )}
    </aside>
  );
}
