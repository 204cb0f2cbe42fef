// AI usage: totals and series per user, service and model (`/api/v1/ai/usage…`).
import { get, q } from './http';
import type { UsagePoint, UsageRow } from './types';

/// Totals over the last `hours`; `all` (admins) is everyone's.
export const usageTotals = (p: { hours: number; all?: boolean }) => get<UsageRow[]>(`/api/v1/ai/usage${q(p)}`);
/// Buckets of an hour or a day over the last `hours`.
export const usageSeries = (p: { hours: number; bucket: 'hour' | 'day'; all?: boolean }) => get<UsagePoint[]>(`/api/v1/ai/usage/series${q(p)}`);
