// System (admins): version, database, container engine, workspaces by
// state, readiness and its problems, the agent's kernel sandbox and host
// isolation, uptime — as cards, refreshed every 10 seconds.
import { useEffect, useState } from 'preact/hooks';
import { errorMessage } from '../api/http';
import { systemInfo } from '../api/system';
import type { SystemInfo } from '../api/types';
import { PageProps, Shell } from '../components/nav';
import { formatDuration } from '../format';

export function SystemPage(p: PageProps) {
  const [info, setInfo] = useState<SystemInfo | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    const load = () =>
      systemInfo()
        .then((i) => (setInfo(i), setError('')))
        .catch((e) => setError(errorMessage(e)));
    load();
    const t = setInterval(load, 10_000);
    return () => clearInterval(t);
  }, []);
  return (
    <Shell {...p} title="System">
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      {!info ? (
        !error && <p class="muted">Loading…</p>
      ) : (
        <div class="cards" data-testid="system">
          <div class="card stat">
            <h4>AiCockpit</h4>
            <div class="big" data-testid="version">
              {info.version}
            </div>
            <div class="muted small">up {formatDuration(info.uptime_secs)}</div>
          </div>
          <div class={`card stat ${info.ready ? 'good' : 'bad'}`}>
            <h4>Readiness</h4>
            <div class="big">{info.ready ? 'Ready' : 'Not ready'}</div>
            {info.problems.length > 0 && (
              <ul class="small">
                {info.problems.map((x) => (
                  <li>{x}</li>
                ))}
              </ul>
            )}
          </div>
          <div class="card stat">
            <h4>Database</h4>
            <div class="big">{info.database}</div>
          </div>
          <div class="card stat" data-testid="engine">
            <h4>Container engine</h4>
            <div class="big">{info.engine}</div>
            {info.engine_version && <div class="muted small">version {info.engine_version}</div>}
          </div>
          <div class="card stat">
            <h4>Workspaces</h4>
            {Object.keys(info.workspaces_by_state).length === 0 ? (
              <div class="big">0</div>
            ) : (
              <table class="kv">
                {Object.entries(info.workspaces_by_state).map(([state, n]) => (
                  <tr>
                    <td>
                      <span class={`state state-${state}`}>{state}</span>
                    </td>
                    <td class="num">{n}</td>
                  </tr>
                ))}
              </table>
            )}
          </div>
          <div class={`card stat ${info.agent_sandbox.available ? 'good' : 'bad'}`}>
            <h4>Agent sandbox (Landlock)</h4>
            <div class="big">{info.agent_sandbox.available ? 'Available' : 'Unavailable'}</div>
            {info.agent_sandbox.detail && <div class="muted small">{info.agent_sandbox.detail}</div>}
            {!info.agent_sandbox.available && <div class="muted small">Every agent command asks for approval.</div>}
          </div>
          <div class={`card stat ${info.host_isolation.enforced ? 'good' : 'bad'}`}>
            <h4>Host isolation</h4>
            <div class="big">{info.host_isolation.enforced ? 'Enforced' : 'Not enforced'}</div>
            {info.host_isolation.detail && <div class="muted small">{info.host_isolation.detail}</div>}
          </div>
          {info.warm_pool.length > 0 && (
            <div class="card stat">
              <h4>Warm pool</h4>
              <table class="kv">
                {info.warm_pool.map((p) => (
                  <tr>
                    <td>{p.template}</td>
                    <td class="num">
                      {p.ready}/{p.wanted} ready
                    </td>
                    <td class="num muted small">
                      {p.hits} hits · {p.misses} misses
                    </td>
                  </tr>
                ))}
              </table>
            </div>
          )}
        </div>
      )}
    </Shell>
  );
}
