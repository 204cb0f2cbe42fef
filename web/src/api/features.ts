// The model each AI feature uses (`/api/v1/ai/features`): the admins'
// defaults, the caller's own choices, and the effective one, cached for
// the editor and panels that ask on every request.
import { get, put } from './http';
import type { FeatureModels, FeatureName, Features } from './types';

let cached: Promise<Features> | null = null;
let cachedAt = 0;
/// How long the effective models are reused before being asked again.
const TTL_MS = 60_000;

export function getFeatures(): Promise<Features> {
  if (!cached || Date.now() - cachedAt > TTL_MS) {
    cachedAt = Date.now();
    cached = get<Features>('/api/v1/ai/features');
  }
  return cached;
}

const changed = async (p: Promise<Features>) => {
  const f = await p;
  cached = Promise.resolve(f);
  cachedAt = Date.now();
  return f;
};

/// The admins' defaults (admins only).
export const putDefaultModels = (body: FeatureModels) => changed(put<Features>('/api/v1/ai/features/defaults', body));
/// The caller's own overrides; null clears one.
export const putMyModels = (body: FeatureModels) => changed(put<Features>('/api/v1/ai/features/mine', body));

/// The model to ask for `feature`: '' is the active service's default (also
/// when the features cannot be read, so AI keeps working).
export async function modelFor(feature: FeatureName): Promise<string> {
  try {
    const f = await getFeatures();
    return f.features.find((x) => x.feature === feature)?.model || '';
  } catch {
    return '';
  }
}
