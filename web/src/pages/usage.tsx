// AI usage over time: tokens and requests per hour or day, grouped by user,
// service or model, over 24 hours, 7 or 30 days, with a totals table.
// Admins can look at everyone's. Loaded only when opened (uPlot with it).
import { useEffect, useMemo, useState } from 'preact/hooks';
import { errorMessage } from '../api/http';
import { usageSeries, usageTotals } from '../api/usage';
import type { UsagePoint, UsageRow } from '../api/types';
import { PageProps, Shell } from '../components/nav';
import { ChartSeries, TimeChart } from '../components/chart';
import { formatCount } from '../format';
import { isAdmin } from '../roles';

type Group = 'user' | 'service' | 'model';
const RANGES = [
  { key: '24h', label: '24 hours', hours: 24, bucket: 'hour' as const },
  { key: '7d', label: '7 days', hours: 24 * 7, bucket: 'hour' as const },
  { key: '30d', label: '30 days', hours: 24 * 30, bucket: 'day' as const },
];
/// At most this many lines; the rest are summed as "other".
const MAX_LINES = 8;

const toMs = (at: string | number | null | undefined) => (typeof at === 'number' ? (at < 1e12 ? at * 1000 : at) : at ? Date.parse(at) : 0);
const groupOf = (r: { user_id: string; username?: string | null; service: string; model: string }, g: Group) =>
  g === 'user' ? r.username || r.user_id : g === 'service' ? r.service || '(none)' : r.model || '(default)';

/// Every bucket of the range (seconds, as uPlot wants) and one line per group.
function buildSeries(points: UsagePoint[], group: Group, hours: number, bucket: 'hour' | 'day') {
  const step = bucket === 'hour' ? 3600_000 : 86400_000;
  const now = Date.now();
  const floor = (t: number) => (bucket === 'hour' ? Math.floor(t / step) * step : (() => {
    const d = new Date(t);
    d.setUTCHours(0, 0, 0, 0);
    return d.getTime();
  })());
  const start = floor(now - hours * 3600_000);
  const xs: number[] = [];
  for (let t = start; t <= now; t += step) xs.push(t);
  const index = new Map(xs.map((t, i) => [t, i]));
  const totals = new Map<string, number>();
  for (const p of points) totals.set(groupOf(p, group), (totals.get(groupOf(p, group)) || 0) + p.prompt_tokens + p.completion_tokens + p.requests);
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([k]) => k);
  const shown = new Set(ranked.slice(0, MAX_LINES));
  const names = [...ranked.slice(0, MAX_LINES), ...(ranked.length > MAX_LINES ? ['other'] : [])];
  const tokens = new Map(names.map((n) => [n, xs.map(() => 0)]));
  const requests = new Map(names.map((n) => [n, xs.map(() => 0)]));
  for (const p of points) {
    const t = floor(toMs(p.at));
    let i = index.get(t);
    if (i === undefined) {
      // A bucket the server aligned differently: the nearest one.
      i = Math.max(0, Math.min(xs.length - 1, Math.round((t - start) / step)));
    }
    const g = shown.has(groupOf(p, group)) ? groupOf(p, group) : 'other';
    tokens.get(g)![i] += p.prompt_tokens + p.completion_tokens;
    requests.get(g)![i] += p.requests;
  }
  const series = (m: Map<string, number[]>): ChartSeries[] => names.map((n) => ({ label: n, values: m.get(n)! }));
  return { xs: xs.map((t) => t / 1000), tokens: series(tokens), requests: series(requests) };
}

export function UsagePage(p: PageProps) {
  const admin = isAdmin(p.user);
  const [range, setRange] = useState(RANGES[0]);
  const [group, setGroup] = useState<Group>('model');
  const [everyone, setEveryone] = useState(false);
  const [points, setPoints] = useState<UsagePoint[] | null>(null);
  const [totals, setTotals] = useState<UsageRow[] | null>(null);
  const [error, setError] = useState('');

  useEffect(() => {
    setError('');
    setPoints(null);
    const all = admin && everyone ? true : undefined;
    Promise.all([usageSeries({ hours: range.hours, bucket: range.bucket, all }), usageTotals({ hours: range.hours, all })])
      .then(([s, t]) => {
        setPoints(s);
        setTotals(t);
      })
      .catch((e) => {
        setError(errorMessage(e));
        setPoints([]);
        setTotals([]);
      });
  }, [range, everyone]);

  const chart = useMemo(() => (points ? buildSeries(points, group, range.hours, range.bucket) : null), [points, group, range]);
  const sum = (k: 'requests' | 'prompt_tokens' | 'completion_tokens' | 'total_tokens') => (totals || []).reduce((a, r) => a + (r[k] || 0), 0);

  return (
    <Shell {...p} title="AI usage">
      <div class="row wrap toolbar" role="group" aria-label="What to show">
        <div class="segmented" role="radiogroup" aria-label="Range">
          {RANGES.map((r) => (
            <button role="radio" aria-checked={range.key === r.key} class={range.key === r.key ? 'on' : ''} onClick={() => setRange(r)}>
              {r.label}
            </button>
          ))}
        </div>
        <label class="inline">
          Group by
          <select name="group" value={group} onChange={(e) => setGroup(e.currentTarget.value as Group)}>
            <option value="user">user</option>
            <option value="service">service</option>
            <option value="model">model</option>
          </select>
        </label>
        {admin && (
          <label class="check">
            <input type="checkbox" name="everyone" checked={everyone} onChange={(e) => setEveryone(e.currentTarget.checked)} /> Everyone
          </label>
        )}
        <span class="spacer" />
        <span class="muted small">{admin && everyone ? 'All users' : 'Your own use'}</span>
      </div>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      {!chart ? (
        <p class="muted">Loading…</p>
      ) : (
        <>
          {points!.length === 0 && <p class="muted">No AI requests in this range yet.</p>}
          <div class="card chart-card">
            <TimeChart title={`Tokens per ${range.bucket}`} xs={chart.xs} series={chart.tokens} unit="tokens" testid="chart-tokens" />
          </div>
          <div class="card chart-card">
            <TimeChart title={`Requests per ${range.bucket}`} xs={chart.xs} series={chart.requests} testid="chart-requests" />
          </div>
        </>
      )}
      <h3>Totals</h3>
      {totals === null ? (
        <p class="muted">Loading…</p>
      ) : totals.length === 0 ? (
        <p class="muted">Nothing used in this range.</p>
      ) : (
        <table class="ws-table" data-testid="usage-totals">
          <thead>
            <tr>
              <th>User</th>
              <th>Service</th>
              <th>Model</th>
              <th class="num">Requests</th>
              <th class="num">Prompt tokens</th>
              <th class="num">Completion tokens</th>
              <th class="num">Total tokens</th>
            </tr>
          </thead>
          <tbody>
            {totals.map((r) => (
              <tr>
                <td>{r.username || r.user_id}</td>
                <td>{r.service}</td>
                <td class="mono small">{r.model}</td>
                <td class="num">{formatCount(r.requests)}</td>
                <td class="num">{formatCount(r.prompt_tokens)}</td>
                <td class="num">{formatCount(r.completion_tokens)}</td>
                <td class="num">{formatCount(r.total_tokens)}</td>
              </tr>
            ))}
            <tr class="total">
              <td colSpan={3}>
                <b>Total</b>
              </td>
              <td class="num">{formatCount(sum('requests'))}</td>
              <td class="num">{formatCount(sum('prompt_tokens'))}</td>
              <td class="num">{formatCount(sum('completion_tokens'))}</td>
              <td class="num">{formatCount(sum('total_tokens'))}</td>
            </tr>
          </tbody>
        </table>
      )}
    </Shell>
  );
}
