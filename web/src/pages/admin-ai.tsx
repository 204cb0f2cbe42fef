// AI services (admins): the services with their last test, add and edit
// (fields per kind; the API key and header values are write-only), test,
// activate, delete; presets and detection of local model servers; aliases;
// and the default model of each AI feature.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, errorMessage } from '../api/http';
import {
  activateService,
  createService,
  deleteAlias,
  deleteService,
  detectServers,
  listAliases,
  listPresets,
  listServices,
  setAlias,
  testService,
  updateService,
} from '../api/ai';
import type { Alias, Detected, LastTest, NewService, Preset, Probe, Service, ServiceKind } from '../api/types';
import { PageProps, Shell } from '../components/nav';
import { Field, FieldErrors, fieldErrors, FormError } from '../components/field';
import { Confirm } from '../components/confirm';
import { FeatureModelsForm } from '../components/feature-models';
import { formatTime } from '../format';

const KINDS: { kind: ServiceKind; label: string; url: string }[] = [
  { kind: 'openai', label: 'OpenAI', url: 'https://api.openai.com/v1' },
  { kind: 'azure_openai', label: 'Azure OpenAI', url: 'https://RESOURCE.openai.azure.com' },
  { kind: 'lm_studio', label: 'LM Studio', url: 'http://localhost:1234/v1' },
  { kind: 'ollama', label: 'Ollama', url: 'http://localhost:11434/v1' },
  { kind: 'vllm', label: 'vLLM', url: 'http://localhost:8000/v1' },
  { kind: 'custom', label: 'Other OpenAI-compatible', url: 'http://host:port/v1' },
];
const kindLabel = (k: string) => KINDS.find((x) => x.kind === k)?.label || k;

/// A service name the server accepts (`[a-z0-9._-]{1,64}`) from a label.
const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64) || 'service';

export function AdminAi(p: PageProps) {
  const [services, setServices] = useState<Service[] | null>(null);
  const [error, setError] = useState('');
  const [editing, setEditing] = useState<Service | 'new' | null>(null);
  const [prefill, setPrefill] = useState<Partial<Draft>>({});
  const [probes, setProbes] = useState<Record<string, Probe | 'testing'>>({});
  const [rowError, setRowError] = useState<Record<string, string>>({});
  const [deleting, setDeleting] = useState<Service | null>(null);

  const load = () =>
    listServices()
      .then((s) => (setServices(s), setError('')))
      .catch((e) => setError(errorMessage(e)));
  useEffect(() => {
    load();
  }, []);

  const rowFail = (s: Service, e: unknown) => setRowError((r) => ({ ...r, [s.id]: errorMessage(e) }));
  const clearRow = (s: Service) => setRowError(({ [s.id]: _, ...rest }) => rest);

  const test = async (s: Service) => {
    clearRow(s);
    setProbes((x) => ({ ...x, [s.id]: 'testing' }));
    try {
      const r = await testService(s.id);
      setProbes((x) => ({ ...x, [s.id]: r }));
      load();
    } catch (e) {
      setProbes(({ [s.id]: _, ...rest }) => rest);
      rowFail(s, e);
    }
  };
  const activate = async (s: Service) => {
    clearRow(s);
    try {
      await activateService(s.id);
      load();
    } catch (e) {
      rowFail(s, e);
    }
  };
  const remove = async (s: Service) => {
    setDeleting(null);
    clearRow(s);
    try {
      await deleteService(s.id);
      load();
    } catch (e) {
      rowFail(s, e);
    }
  };
  const startAdd = (fill: Partial<Draft> = {}) => {
    setPrefill(fill);
    setEditing('new');
    setTimeout(() => document.getElementById('service-form')?.scrollIntoView({ block: 'start' }), 0);
  };
  const known = [...new Set((services || []).flatMap((s) => [...(s.last_test?.models || []), ...(s.default_model ? [s.default_model] : [])]))];

  return (
    <Shell
      {...p}
      title="AI services"
      actions={
        <button class="primary" onClick={() => startAdd()}>
          Add a service
        </button>
      }
    >
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      {services === null ? (
        !error && <p class="muted">Loading…</p>
      ) : services.length === 0 ? (
        <div class="notice" data-testid="no-services">
          No AI service yet. Add one below — a local server (LM Studio, Ollama, vLLM, llama.cpp) is found by <b>Detect local servers</b>.
        </div>
      ) : (
        <table class="ws-table" data-testid="services">
          <thead>
            <tr>
              <th>Name</th>
              <th>Kind</th>
              <th>Base URL</th>
              <th>Default model</th>
              <th>API key</th>
              <th>Last test</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {services.map((s) => {
              const probe = probes[s.id];
              return [
                <tr key={s.id} data-service={s.name}>
                  <td class="ws-name">
                    {s.name} {s.active && <span class="badge good">active</span>}
                    {s.fallback && <div class="muted small">falls back to {services.find((x) => x.id === s.fallback || x.name === s.fallback)?.name || s.fallback}</div>}
                  </td>
                  <td>{kindLabel(s.kind)}</td>
                  <td class="mono small">{s.base_url}</td>
                  <td>{s.default_model || <span class="muted">–</span>}</td>
                  <td>{s.has_api_key ? <span class="badge">set</span> : <span class="muted">not set</span>}</td>
                  <td>
                    <LastTestCell t={s.last_test} />
                  </td>
                  <td class="actions">
                    <button onClick={() => test(s)} disabled={probe === 'testing'}>
                      {probe === 'testing' ? 'Testing…' : 'Test'}
                    </button>
                    <button onClick={() => activate(s)} disabled={s.active}>
                      Activate
                    </button>
                    <button onClick={() => (setPrefill({}), setEditing(s))}>Edit</button>
                    <button class="danger" onClick={() => setDeleting(s)}>
                      Delete
                    </button>
                  </td>
                </tr>,
                (probe && probe !== 'testing') || rowError[s.id] ? (
                  <tr key={s.id + '-result'}>
                    <td colSpan={7}>
                      {rowError[s.id] && (
                        <div class="error" role="alert">
                          {s.name}: {rowError[s.id]}
                        </div>
                      )}
                      {probe && probe !== 'testing' && <ProbeView probe={probe} name={s.name} />}
                    </td>
                  </tr>
                ) : null,
              ];
            })}
          </tbody>
        </table>
      )}

      {editing && (
        <ServiceForm
          key={editing === 'new' ? 'new' : editing.id}
          service={editing === 'new' ? null : editing}
          prefill={prefill}
          services={services || []}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            load();
          }}
        />
      )}

      <LocalServers onAdd={startAdd} onAdded={load} taken={(services || []).map((s) => s.name)} />

      <section class="card section">
        <h3>Models per feature</h3>
        <p class="muted small">The model each AI feature asks for unless a user chooses their own (My account). Blank: the active service's default model.</p>
        <FeatureModelsForm mode="defaults" known={known} />
      </section>

      <Aliases services={services || []} />

      {deleting && (
        <Confirm
          title={`Delete ${deleting.name}?`}
          body="Requests routed to this service (its aliases, its use as a fallback) stop working."
          confirm="Delete"
          onCancel={() => setDeleting(null)}
          onConfirm={() => remove(deleting)}
        />
      )}
    </Shell>
  );
}

function LastTestCell({ t }: { t?: LastTest | null }) {
  if (!t) return <span class="muted small">never tested</span>;
  return (
    <span class="small" title={formatTime(t.at)}>
      {t.ok ? <span class="badge good">ok</span> : <span class="badge bad">{t.error_kind || 'failed'}</span>} {Math.round(t.latency_ms)} ms
      <div class="muted">{formatTime(t.at)}</div>
    </span>
  );
}

/// What a test found: latency and the models, or exactly what failed.
export function ProbeView({ probe, name }: { probe: Probe; name: string }) {
  if (probe.ok)
    return (
      <div class="probe ok" role="status" data-testid="probe">
        <b>{name} answered</b> in <span data-testid="latency">{Math.round(probe.latency_ms)} ms</span>.{' '}
        {probe.default_model_found === false && <span class="warn-text">Its default model is not among the models it lists. </span>}
        {probe.models.length ? (
          <>
            Models:
            <ul class="models">
              {probe.models.map((m) => (
                <li>{m}</li>
              ))}
            </ul>
          </>
        ) : (
          <span class="muted">It lists no models.</span>
        )}
      </div>
    );
  return (
    <div class="probe bad" role="alert" data-testid="probe">
      <b>{name} failed</b> after {Math.round(probe.latency_ms)} ms: <span class="badge bad">{probe.error_kind || 'error'}</span>
      {probe.status ? ` (HTTP ${probe.status})` : ''} {probe.error}
    </div>
  );
}

interface Draft {
  name: string;
  kind: ServiceKind;
  base_url: string;
  api_key: string;
  clear_key: boolean;
  default_model: string;
  azure_deployment: string;
  azure_api_version: string;
  fallback: string;
  connect_ms: string;
  first_byte_ms: string;
  idle_ms: string;
  headers: { name: string; value: string; kept: boolean }[];
}

const draftOf = (s: Service | null, fill: Partial<Draft>): Draft => ({
  name: s?.name || '',
  kind: (s?.kind as ServiceKind) || 'custom',
  base_url: s?.base_url || '',
  api_key: '',
  clear_key: false,
  default_model: s?.default_model || '',
  azure_deployment: s?.azure_deployment || '',
  azure_api_version: s?.azure_api_version || '',
  fallback: s?.fallback || '',
  connect_ms: s ? String(s.timeouts.connect_ms) : '',
  first_byte_ms: s ? String(s.timeouts.first_byte_ms) : '',
  idle_ms: s ? String(s.timeouts.idle_ms) : '',
  headers: (s?.header_names || []).map((name) => ({ name, value: '', kept: true })),
  ...fill,
});

/// Which field a refusal is about, from its code.
const pickField = (code: string, msg: string) => {
  const c = code + ' ' + msg;
  if (/name_taken|invalid_name|service name/.test(c)) return 'name';
  if (/kind/.test(code)) return 'kind';
  if (/base_url|url/.test(c)) return 'base_url';
  if (/api_key/.test(c)) return 'api_key';
  if (/header/.test(c)) return 'headers';
  if (/fallback/.test(c)) return 'fallback';
  if (/azure|deployment|api version/.test(c)) return 'azure';
  if (/timeout/.test(c)) return 'timeouts';
  if (/model/.test(c)) return 'default_model';
  return undefined;
};

function ServiceForm(props: { service: Service | null; prefill: Partial<Draft>; services: Service[]; onClose: () => void; onSaved: () => void }) {
  const s = props.service;
  const [d, setD] = useState<Draft>(() => {
    const draft = draftOf(s, props.prefill);
    // The service names its fallback by id; the form by name.
    const fb = props.services.find((x) => x.id === draft.fallback || x.name === draft.fallback);
    return { ...draft, fallback: fb ? fb.name : '' };
  });
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const [headersTouched, setHeadersTouched] = useState(false);
  const set = <K extends keyof Draft>(k: K, v: Draft[K]) => setD((x) => ({ ...x, [k]: v }));
  const setHeader = (i: number, h: Partial<Draft['headers'][number]>) => {
    setHeadersTouched(true);
    setD((x) => ({ ...x, headers: x.headers.map((old, j) => (j === i ? { ...old, ...h } : old)) }));
  };
  const kind = KINDS.find((k) => k.kind === d.kind);

  const submit = async (e: Event) => {
    e.preventDefault();
    const errs: FieldErrors = {};
    const ms = (v: string, field: string) => {
      if (!v.trim()) return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) errs.timeouts = `${field}: a whole number of milliseconds.`;
      return n;
    };
    const connect = ms(d.connect_ms, 'Connect');
    const firstByte = ms(d.first_byte_ms, 'First byte');
    const idle = ms(d.idle_ms, 'Idle');
    let headers: Record<string, string> | undefined;
    if (headersTouched || !s) {
      const rows = d.headers.filter((h) => h.name.trim() || h.value);
      if (rows.some((h) => !h.name.trim())) errs.headers = 'Every header needs a name.';
      else if (rows.some((h) => !h.value)) errs.headers = 'Header values are never shown: enter the value of every header again when you change the headers.';
      else headers = Object.fromEntries(rows.map((h) => [h.name.trim(), h.value]));
      if (s && rows.length === 0 && s.header_names.length === 0) headers = undefined;
    }
    if (d.kind === 'azure_openai' && !d.azure_deployment.trim()) errs.azure = 'Azure needs the deployment name.';
    if (Object.keys(errs).length) return setErrors(errs);
    const body: NewService = {
      name: d.name.trim(),
      kind: d.kind,
      base_url: d.base_url.trim() || (s ? undefined : null),
      default_model: d.default_model.trim(),
      fallback: d.fallback,
      ...(d.kind === 'azure_openai' ? { azure_deployment: d.azure_deployment.trim(), azure_api_version: d.azure_api_version.trim() } : {}),
      ...(connect !== undefined ? { connect_timeout_ms: connect } : {}),
      ...(firstByte !== undefined ? { first_byte_timeout_ms: firstByte } : {}),
      ...(idle !== undefined ? { idle_timeout_ms: idle } : {}),
      ...(headers !== undefined ? { headers } : {}),
      ...(d.api_key ? { api_key: d.api_key } : d.clear_key ? { api_key: '' } : {}),
    };
    if (!s) {
      // A new service: nothing to clear, so blanks are left out.
      for (const k of ['default_model', 'fallback', 'base_url'] as const) if (!body[k]) delete body[k];
    }
    setBusy(true);
    setErrors({});
    try {
      if (s) await updateService(s.id, body);
      else await createService(body);
      props.onSaved();
    } catch (err) {
      setErrors(fieldErrors(err, pickField));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form id="service-form" class="card form section" onSubmit={submit} aria-label={s ? `Edit ${s.name}` : 'Add a service'} data-testid="service-form">
      <h3>{s ? `Edit ${s.name}` : 'Add a service'}</h3>
      <div class="row top">
        <Field label="Name" error={errors.name} hint="Lower case letters, digits, . _ -">
          <input name="name" required value={d.name} onInput={(e) => set('name', e.currentTarget.value)} />
        </Field>
        <Field label="Kind" error={errors.kind}>
          <select name="kind" value={d.kind} onChange={(e) => set('kind', e.currentTarget.value as ServiceKind)}>
            {KINDS.map((k) => (
              <option value={k.kind}>{k.label}</option>
            ))}
          </select>
        </Field>
      </div>
      <Field label="Base URL" error={errors.base_url} hint={d.kind === 'openai' || d.kind === 'lm_studio' || d.kind === 'ollama' || d.kind === 'vllm' ? 'Blank: the usual address for this kind.' : undefined}>
        <input name="base_url" type="url" placeholder={kind?.url} required={d.kind === 'custom' || d.kind === 'azure_openai'} value={d.base_url} onInput={(e) => set('base_url', e.currentTarget.value)} />
      </Field>
      {d.kind === 'azure_openai' && (
        <div class="row top">
          <Field label="Deployment" error={errors.azure}>
            <input name="azure_deployment" value={d.azure_deployment} onInput={(e) => set('azure_deployment', e.currentTarget.value)} />
          </Field>
          <Field label="API version" hint="e.g. 2024-10-21">
            <input name="azure_api_version" value={d.azure_api_version} onInput={(e) => set('azure_api_version', e.currentTarget.value)} />
          </Field>
        </div>
      )}
      <Field
        label={
          <span>
            API key <span class="muted small">({s?.has_api_key ? 'set' : 'not set'}; never shown)</span>
          </span>
        }
        error={errors.api_key}
        hint={s?.has_api_key ? 'Blank keeps the current key.' : undefined}
      >
        <input
          name="api_key"
          type="password"
          autoComplete="off"
          placeholder={s?.has_api_key ? 'set — blank keeps it' : 'not set'}
          value={d.api_key}
          onInput={(e) => set('api_key', e.currentTarget.value)}
        />
      </Field>
      {s?.has_api_key && (
        <label class="check">
          <input type="checkbox" checked={d.clear_key} onChange={(e) => set('clear_key', e.currentTarget.checked)} disabled={!!d.api_key} /> Remove the stored key
        </label>
      )}
      <div class="row top">
        <Field label="Default model" error={errors.default_model} hint="Asked for when a request names no model.">
          <input name="default_model" list="ai-known-models" value={d.default_model} onInput={(e) => set('default_model', e.currentTarget.value)} />
        </Field>
        <Field label="Fallback service" error={errors.fallback} hint="Used when this one fails before answering.">
          <select name="fallback" value={d.fallback} onChange={(e) => set('fallback', e.currentTarget.value)}>
            <option value="">none</option>
            {props.services
              .filter((x) => x.id !== s?.id)
              .map((x) => (
                <option value={x.name}>{x.name}</option>
              ))}
          </select>
        </Field>
      </div>
      <fieldset class="field-group">
        <legend>Extra headers</legend>
        <p class="muted small">Sent with every request to the service. Values are write-only.</p>
        {d.headers.map((h, i) => (
          <div class="row">
            <input aria-label={`Header ${i + 1} name`} placeholder="Name" value={h.name} onInput={(e) => setHeader(i, { name: e.currentTarget.value })} />
            <input
              aria-label={`Header ${i + 1} value`}
              type="password"
              autoComplete="off"
              placeholder={h.kept ? 'set — enter again to change' : 'Value'}
              value={h.value}
              onInput={(e) => setHeader(i, { value: e.currentTarget.value })}
            />
            <button
              type="button"
              aria-label={`Remove header ${i + 1}`}
              onClick={() => {
                setHeadersTouched(true);
                setD((x) => ({ ...x, headers: x.headers.filter((_, j) => j !== i) }));
              }}
            >
              Remove
            </button>
          </div>
        ))}
        <div>
          <button
            type="button"
            onClick={() => {
              setHeadersTouched(true);
              setD((x) => ({ ...x, headers: [...x.headers, { name: '', value: '', kept: false }] }));
            }}
          >
            Add a header
          </button>
        </div>
        {errors.headers && (
          <div class="field-error" role="alert">
            {errors.headers}
          </div>
        )}
      </fieldset>
      <fieldset class="field-group">
        <legend>Timeouts (milliseconds)</legend>
        <div class="row top">
          <Field label="Connect">
            <input name="connect_timeout_ms" inputMode="numeric" placeholder="5000" value={d.connect_ms} onInput={(e) => set('connect_ms', e.currentTarget.value)} />
          </Field>
          <Field label="First byte">
            <input name="first_byte_timeout_ms" inputMode="numeric" placeholder="60000" value={d.first_byte_ms} onInput={(e) => set('first_byte_ms', e.currentTarget.value)} />
          </Field>
          <Field label="Idle (between chunks)">
            <input name="idle_timeout_ms" inputMode="numeric" placeholder="60000" value={d.idle_ms} onInput={(e) => set('idle_ms', e.currentTarget.value)} />
          </Field>
        </div>
        {errors.timeouts && (
          <div class="field-error" role="alert">
            {errors.timeouts}
          </div>
        )}
      </fieldset>
      <FormError errors={errors} />
      <div class="row">
        <button class="primary" type="submit" disabled={busy || !d.name.trim()}>
          {busy ? 'Saving…' : s ? 'Save' : 'Add service'}
        </button>
        <button type="button" onClick={props.onClose}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/// Presets for local servers (prefill the form) and detection (what answers
/// at their usual addresses, added in one click).
function LocalServers({ onAdd, onAdded, taken }: { onAdd: (d: Partial<Draft>) => void; onAdded: () => void; taken: string[] }) {
  const [presets, setPresets] = useState<Preset[]>([]);
  const [found, setFound] = useState<Detected[] | null>(null);
  const [detecting, setDetecting] = useState(false);
  const [error, setError] = useState('');
  const [added, setAdded] = useState<Record<string, string>>({});
  useEffect(() => {
    listPresets()
      .then(setPresets)
      .catch(() => setPresets([]));
  }, []);
  const detect = async () => {
    setDetecting(true);
    setError('');
    try {
      setFound(await detectServers());
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setDetecting(false);
    }
  };
  const nameFor = (label: string) => {
    let n = slug(label);
    for (let i = 2; taken.includes(n); i++) n = `${slug(label)}-${i}`;
    return n;
  };
  /// A short name for a detected server: its preset's, else `local-<port>`.
  const detectedName = (d: Detected) => {
    const preset = presets.find((p) => p.base_url === d.base_url);
    if (preset) return nameFor(preset.label);
    let port = '';
    try {
      port = new URL(d.base_url).port;
    } catch {
      /* not a URL: no port */
    }
    return nameFor(port ? `local-${port}` : d.label);
  };
  const add = async (d: Detected) => {
    try {
      const svc = await createService({ name: detectedName(d), kind: d.kind as ServiceKind, base_url: d.base_url, ...(d.probe.models[0] ? { default_model: d.probe.models[0] } : {}) });
      setAdded((a) => ({ ...a, [d.base_url]: `Added as ${svc.name}.` }));
      onAdded();
    } catch (e) {
      setAdded((a) => ({ ...a, [d.base_url]: e instanceof ApiError ? e.message : String(e) }));
    }
  };
  return (
    <section class="card section" data-testid="local-servers">
      <h3>Local model servers</h3>
      <div class="row wrap">
        <span class="muted">Start from a preset:</span>
        {presets.map((pr) => (
          <button type="button" title={pr.base_url} onClick={() => onAdd({ kind: pr.kind as ServiceKind, base_url: pr.base_url, name: nameFor(pr.label) })}>
            {pr.label}
          </button>
        ))}
        <span class="spacer" />
        <button type="button" onClick={detect} disabled={detecting}>
          {detecting ? (
            <>
              <span class="spinner" /> Detecting…
            </>
          ) : (
            'Detect local servers'
          )}
        </button>
      </div>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      {found &&
        (found.filter((f) => f.probe.ok).length === 0 ? (
          <p class="muted" role="status">
            Nothing answered at the usual addresses ({found.map((f) => f.base_url).join(', ') || 'no presets'}).
          </p>
        ) : (
          <ul class="detected" role="status">
            {found
              .filter((f) => f.probe.ok)
              .map((f) => (
                <li>
                  <b>{f.label}</b> at <span class="mono">{f.base_url}</span> — {Math.round(f.probe.latency_ms)} ms, {f.probe.models.length} model(s){f.probe.models.length ? `: ${f.probe.models.slice(0, 5).join(', ')}` : ''}{' '}
                  {added[f.base_url] ? <span class="muted">{added[f.base_url]}</span> : <button onClick={() => add(f)}>Add</button>}
                </li>
              ))}
          </ul>
        ))}
    </section>
  );
}

function Aliases({ services }: { services: Service[] }) {
  const [aliases, setAliases] = useState<Alias[] | null>(null);
  const [model, setModel] = useState('');
  const [service, setService] = useState('');
  const [target, setTarget] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const load = () =>
    listAliases()
      .then(setAliases)
      .catch((e) => setErrors({ '': errorMessage(e) }));
  useEffect(() => {
    load();
  }, []);
  const add = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    try {
      await setAlias(model.trim(), { service, target_model: target.trim() || null });
      setModel('');
      setTarget('');
      load();
    } catch (err) {
      setErrors(fieldErrors(err, (code, msg) => (/service/.test(code + msg) ? 'service' : /model|alias/.test(code + msg) ? 'model' : undefined)));
    }
  };
  const name = (id: string) => services.find((s) => s.id === id || s.name === id)?.name || id;
  return (
    <section class="card section" data-testid="aliases">
      <h3>Aliases</h3>
      <p class="muted small">A model name that routes to a service (and optionally to another model name there).</p>
      {aliases && aliases.length > 0 && (
        <table class="ws-table">
          <thead>
            <tr>
              <th>Model name</th>
              <th>Service</th>
              <th>Target model</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {aliases.map((a) => (
              <tr>
                <td class="mono">{a.model}</td>
                <td>{name(a.service)}</td>
                <td class="mono">{a.target_model || <span class="muted">same name</span>}</td>
                <td class="actions">
                  <button class="danger" onClick={() => deleteAlias(a.model).then(load, (e) => setErrors({ '': errorMessage(e) }))}>
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form class="form" onSubmit={add} aria-label="Add an alias">
        <div class="row top">
          <Field label="Model name" error={errors.model}>
            <input name="alias_model" required value={model} onInput={(e) => setModel(e.currentTarget.value)} />
          </Field>
          <Field label="Service" error={errors.service}>
            <select name="alias_service" required value={service} onChange={(e) => setService(e.currentTarget.value)}>
              <option value="">choose…</option>
              {services.map((s) => (
                <option value={s.name}>{s.name}</option>
              ))}
            </select>
          </Field>
          <Field label="Target model (optional)">
            <input name="alias_target" list="ai-known-models" value={target} onInput={(e) => setTarget(e.currentTarget.value)} />
          </Field>
        </div>
        <FormError errors={errors} />
        <div class="row">
          <button type="submit" disabled={!model.trim() || !service}>
            Add alias
          </button>
        </div>
      </form>
      <datalist id="ai-known-models">
        {[...new Set(services.flatMap((s) => s.last_test?.models || []))].map((m) => (
          <option value={m} />
        ))}
      </datalist>
    </section>
  );
}
