// Snapshots and forks (`/api/v1/snapshots…`, `…/workspaces/{id}/snapshots`,
// `…/restore`) and deleted workspaces' kept data (`/api/v1/kept-data`).
import { ticket } from './auth';
import { ApiError, del, get, post, seg, token } from './http';
import type { KeptData, Snapshot, Workspace } from './types';
import { workspacePath } from './workspaces';

export const listSnapshots = () => get<Snapshot[]>('/api/v1/snapshots');
export const takeSnapshot = (workspace: string, name?: string) =>
  post<Snapshot>(`${workspacePath(workspace)}/snapshots`, name ? { name } : {});
export const forkSnapshot = (id: string, name: string) => post<Workspace>(`/api/v1/snapshots/${seg(id)}/fork`, { name });
export const restoreSnapshot = (workspace: string, snapshot: string) =>
  post<Workspace>(`${workspacePath(workspace)}/restore`, { snapshot });
export const deleteSnapshot = (id: string) => del<void>(`/api/v1/snapshots/${seg(id)}`);
/// A link that downloads the snapshot as one archive: the browser follows
/// it itself, streaming to disk with its own progress (a single-use ticket
/// stands in for the header a link cannot send).
export const exportLink = async (id: string) => {
  const t = await ticket();
  return `/api/v1/snapshots/${seg(id)}/export?ticket=${encodeURIComponent(t.ticket)}`;
};

/// A snapshot archive file from another server, streamed up; `progress`
/// hears the share sent so far (0…1). XMLHttpRequest, because fetch does
/// not report upload progress.
export const importSnapshot = (file: File, progress: (sent: number) => void) =>
  new Promise<Snapshot>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/v1/snapshots/import');
    const t = token();
    if (t) xhr.setRequestHeader('Authorization', `Bearer ${t}`);
    xhr.setRequestHeader('Content-Type', 'application/x-tar');
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) progress(e.loaded / e.total);
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'the upload broke off'));
    xhr.onload = () => {
      let body: { error?: { code: string; message: string } } | Snapshot | null = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        /* not JSON */
      }
      if (xhr.status >= 200 && xhr.status < 300 && body) resolve(body as Snapshot);
      else {
        const err = (body as { error?: { code: string; message: string } } | null)?.error;
        reject(new ApiError(xhr.status, err?.code ?? `http_${xhr.status}`, err?.message ?? `${xhr.status} ${xhr.statusText}`));
      }
    };
    xhr.send(file);
  });

export const listKept = () => get<KeptData[]>('/api/v1/kept-data');
export const purgeKept = (workspace: string) => del<void>(`/api/v1/kept-data/${seg(workspace)}`);
export const createFromKept = (workspace: string, name: string) => post<Workspace>('/api/v1/workspaces', { name, from_kept: workspace });
