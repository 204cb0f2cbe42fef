// The audit log (read-only): `/api/v1/audit…`.
import { get, q, request } from './http';
import type { AuditQuery, AuditRow, AuditVerification } from './types';

/// Entries oldest first (newest first with `before`); `workspace` narrows
/// to one workspace, `action` to actions starting with it, `since`/`until`
/// are milliseconds since the epoch.
export const listAudit = (params: AuditQuery) => get<AuditRow[]>(`/api/v1/audit${q({ ...params })}`);
/// Whether the hash chain is intact (admins).
export const verifyAudit = () => get<AuditVerification>('/api/v1/audit/verify');
/// The raw chain as a file (admins).
export const exportAudit = async () => (await request('GET', '/api/v1/audit/export')).blob();
