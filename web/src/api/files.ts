// A workspace's files: `/api/v1/workspaces/{id}/files…` and `…/search…`.
import { del, get, post, q, request } from './http';
import { subscribe } from './sse';
import type { DirEntry, FileMeta, FsChange, SearchResult, Uploaded } from './types';
import { workspacePath } from './workspaces';

const files = (id: string) => `${workspacePath(id)}/files`;
const contentPath = (id: string, path: string) => `${files(id)}/content${q({ path })}`;

export const listDir = (id: string, path: string) => get<DirEntry[]>(`${files(id)}${q({ path })}`);
export const stat = (id: string, path: string) => get<FileMeta>(`${files(id)}/stat${q({ path })}`);

/// A file's text and its ETag (for a save that must not overwrite newer changes).
export async function readText(id: string, path: string): Promise<{ text: string; etag: string }> {
  const resp = await request('GET', contentPath(id, path));
  return { text: await resp.text(), etag: resp.headers.get('etag') || '' };
}

export const readBlob = async (id: string, path: string) => (await request('GET', contentPath(id, path))).blob();

export interface WriteOptions {
  /// Write only if the file is still at this ETag (else a 412 `ApiError`).
  ifMatch?: string;
  /// Write only if the file does not exist yet.
  createOnly?: boolean;
}

export async function writeText(id: string, path: string, text: string, { ifMatch, createOnly }: WriteOptions = {}): Promise<FileMeta> {
  const headers: Record<string, string> = {};
  if (ifMatch) headers['If-Match'] = ifMatch;
  if (createOnly) headers['If-None-Match'] = '*';
  return (await request('PUT', contentPath(id, path), text, headers)).json();
}

export const mkdir = (id: string, path: string) => post<FileMeta>(`${files(id)}/mkdir`, { path });
export const rename = (id: string, from: string, to: string) => post<FileMeta>(`${files(id)}/rename`, { from, to });
export const remove = (id: string, path: string, recursive: boolean) => del<void>(`${files(id)}${q({ path, recursive })}`);

/// Uploads files into a directory (multipart, one `file` part each).
export async function upload(id: string, dir: string, list: File[]): Promise<Uploaded> {
  const form = new FormData();
  list.forEach((f) => form.append('file', f, f.name));
  return (await request('POST', `${files(id)}/upload${q({ path: dir })}`, form)).json();
}

/// Unpacks a .tar, .tar.gz or .zip archive into a directory.
export async function unpack(id: string, dir: string, file: File): Promise<Uploaded> {
  const head = new Uint8Array(await file.slice(0, 4).arrayBuffer());
  const type = head[0] === 0x50 && head[1] === 0x4b ? 'application/zip' : head[0] === 0x1f && head[1] === 0x8b ? 'application/gzip' : 'application/x-tar';
  return (await request('POST', `${files(id)}/upload${q({ path: dir })}`, file, { 'content-type': type })).json();
}

/// The URL of a directory as a `.tar.gz` (needs the session token: fetch it with `archive`).
export const archiveUrl = (id: string, path: string) => `${files(id)}/archive${q({ path })}`;
export const archive = async (id: string, path: string) => (await request('GET', archiveUrl(id, path))).blob();

/// Follows changes under `path` until the stream ends or `signal` aborts.
export const watch = (id: string, path: string, signal: AbortSignal, onChanges: (changes: FsChange[]) => void) =>
  subscribe(`${files(id)}/watch${q({ path })}`, signal, (e) => onChanges(JSON.parse(e.data).changes));

export interface SearchParams {
  q: string;
  regex?: boolean;
  /// `smart` (the default), `sensitive` or `insensitive`.
  case?: string;
  /// Comma-separated globs; `!` excludes.
  globs?: string;
  path?: string;
  max?: number;
}

/// Text search across the workspace, honouring `.gitignore`.
export const search = (id: string, params: SearchParams) => get<SearchResult>(`${workspacePath(id)}/search${q({ ...params })}`);

/// File names matching `query` (for quick open and @-mentions).
export const findFiles = (id: string, query: string, max: number) => get<string[]>(`${workspacePath(id)}/search/files${q({ q: query, max })}`);
