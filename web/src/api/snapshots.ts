// Snapshots and forks (`/api/v1/snapshots…`, `…/workspaces/{id}/snapshots`,
// `…/restore`) and deleted workspaces' kept data (`/api/v1/kept-data`).
import { del, get, post, request, seg } from './http';
import type { KeptData, Snapshot, Workspace } from './types';
import { workspacePath } from './workspaces';

export const listSnapshots = () => get<Snapshot[]>('/api/v1/snapshots');
export const takeSnapshot = (workspace: string, name?: string) =>
  post<Snapshot>(`${workspacePath(workspace)}/snapshots`, name ? { name } : {});
export const forkSnapshot = (id: string, name: string) => post<Workspace>(`/api/v1/snapshots/${seg(id)}/fork`, { name });
export const restoreSnapshot = (workspace: string, snapshot: string) =>
  post<Workspace>(`${workspacePath(workspace)}/restore`, { snapshot });
export const deleteSnapshot = (id: string) => del<void>(`/api/v1/snapshots/${seg(id)}`);
/// The snapshot as one archive (held by the browser until saved).
export const exportSnapshot = async (id: string) => (await request('GET', `/api/v1/snapshots/${seg(id)}/export`)).blob();
/// A snapshot archive file from another server (the browser streams it).
export const importSnapshot = async (file: File) =>
  (await (await request('POST', '/api/v1/snapshots/import', file, { 'Content-Type': 'application/x-tar' })).json()) as Snapshot;

export const listKept = () => get<KeptData[]>('/api/v1/kept-data');
export const purgeKept = (workspace: string) => del<void>(`/api/v1/kept-data/${seg(workspace)}`);
export const createFromKept = (workspace: string, name: string) => post<Workspace>('/api/v1/workspaces', { name, from_kept: workspace });
