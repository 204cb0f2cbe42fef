// The audit log (read-only): `/api/v1/audit`.
import { get, q } from './http';
import type { AuditRow } from './types';

/// Entries oldest first; `workspace` narrows to one workspace.
export const listAudit = (params: { workspace?: string; after?: number; limit?: number }) => get<AuditRow[]>(`/api/v1/audit${q(params)}`);
