// Models per AI feature (chat, completion, Ctrl+K edit, command help, agent):
// the admins' defaults, or a user's own overrides (blank = the default).
// Free text with the known models offered as suggestions.
import { useEffect, useState } from 'preact/hooks';
import { errorMessage } from '../api/http';
import { getFeatures, putDefaultModels, putMyModels } from '../api/features';
import { listModels } from '../api/gateway';
import type { Feature, FeatureModels, FeatureName } from '../api/types';

export function FeatureModelsForm({ mode, known = [] }: { mode: 'defaults' | 'mine'; known?: string[] }) {
  const [features, setFeatures] = useState<Feature[] | null>(null);
  const [values, setValues] = useState<Record<string, string>>({});
  const [models, setModels] = useState<string[]>([]);
  const [error, setError] = useState('');
  const [saved, setSaved] = useState('');
  const [busy, setBusy] = useState(false);

  const show = (list: Feature[]) => {
    setFeatures(list);
    setValues(Object.fromEntries(list.map((f) => [f.feature, (mode === 'defaults' ? f.default_model : f.my_model) || ''])));
  };
  useEffect(() => {
    getFeatures()
      .then((f) => show(f.features))
      .catch((e) => setError(errorMessage(e)));
    listModels()
      .then((r) => setModels(r.data.map((m) => m.id)))
      .catch(() => setModels([]));
  }, [mode]);

  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    setSaved('');
    try {
      const body: FeatureModels = {};
      for (const f of features || []) body[f.feature as FeatureName] = values[f.feature]?.trim() || null;
      const r = await (mode === 'defaults' ? putDefaultModels(body) : putMyModels(body));
      show(r.features);
      setSaved('Saved.');
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const listId = `models-${mode}`;
  const suggestions = [...new Set([...known, ...models])].sort();
  if (!features) return error ? <div class="error">{error}</div> : <p class="muted">Loading…</p>;
  return (
    <form class="form" onSubmit={save} data-testid={`feature-models-${mode}`}>
      <datalist id={listId}>
        {suggestions.map((m) => (
          <option value={m} />
        ))}
      </datalist>
      <table class="kv wide">
        {features.map((f) => (
          <tr>
            <td>
              <label for={`${listId}-${f.feature}`}>{f.label}</label>
            </td>
            <td>
              <input
                id={`${listId}-${f.feature}`}
                name={f.feature}
                list={listId}
                placeholder={
                  mode === 'defaults' ? "the active service's default model" : f.default_model ? `default: ${f.default_model}` : "default: the active service's model"
                }
                value={values[f.feature] || ''}
                onInput={(e) => setValues((v) => ({ ...v, [f.feature]: e.currentTarget.value }))}
              />
            </td>
            <td class="muted small">{mode === 'mine' && `uses ${f.model || "the active service's default"}`}</td>
          </tr>
        ))}
      </table>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      <div class="row">
        <button class="primary" type="submit" disabled={busy}>
          {mode === 'defaults' ? 'Save defaults' : 'Save my models'}
        </button>
        {saved && (
          <span class="muted" role="status">
            {saved}
          </span>
        )}
      </div>
    </form>
  );
}
