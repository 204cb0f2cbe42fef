// Per-user quotas: `/api/v1/quota` (the caller's own).
import { get } from './http';
import type { Quota } from './types';

export const myQuota = () => get<Quota>('/api/v1/quota');
