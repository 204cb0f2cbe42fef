// The AiCockpit API client: the session token, JSON calls, and errors in
// the server's `{"error": {"code", "message"}}` shape.

const TOKEN_KEY = 'aicockpit.token';

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string) {
    super(message);
  }
}

export function token(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(t: string | null) {
  if (t) localStorage.setItem(TOKEN_KEY, t);
  else localStorage.removeItem(TOKEN_KEY);
}

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();
export function onUnauthorized(l: Listener): () => void {
  unauthorizedListeners.add(l);
  return () => unauthorizedListeners.delete(l);
}

async function raise(resp: Response): Promise<never> {
  let code = 'http_' + resp.status;
  let message = `${resp.status} ${resp.statusText}`;
  try {
    const body = await resp.json();
    if (body?.error) {
      code = body.error.code;
      message = body.error.message;
    }
  } catch {
    /* not JSON */
  }
  if (resp.status === 401) unauthorizedListeners.forEach((l) => l());
  throw new ApiError(resp.status, code, message);
}

export async function request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  const h: Record<string, string> = { ...headers };
  const t = token();
  if (t) h['Authorization'] = `Bearer ${t}`;
  let payload: BodyInit | undefined;
  if (body instanceof Blob || body instanceof FormData || typeof body === 'string' || body instanceof ArrayBuffer) {
    payload = body as BodyInit;
  } else if (body !== undefined) {
    h['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let resp: Response;
  try {
    resp = await fetch(path, { method, headers: h, body: payload });
  } catch (e) {
    throw new ApiError(0, 'network', 'The server cannot be reached. Retrying helps once it is back.');
  }
  if (!resp.ok) await raise(resp);
  return resp;
}

export async function json<T>(method: string, path: string, body?: unknown): Promise<T> {
  const resp = await request(method, path, body);
  if (resp.status === 204) return undefined as T;
  return (await resp.json()) as T;
}

export const get = <T>(path: string) => json<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => json<T>('POST', path, body);
export const del = <T>(path: string) => json<T>('DELETE', path);

export interface User {
  id: string;
  username: string;
  role: string;
}

export interface Workspace {
  id: string;
  name: string;
  template: string | null;
  image: string;
  state: string;
  state_reason: string | null;
  limits: { cpus: number; memory_mb: number; pids_limit: number };
  env: Record<string, string>;
  ports: number[];
  published_ports: { container_port: number; host_ip: string; host_port: number }[];
  created_at: string;
}

export interface Template {
  name: string;
  image: string;
  description: string;
  cpus: number | null;
  memory_mb: number | null;
  ports: number[];
}

export interface Usage {
  running: boolean;
  cpu_percent?: number | null;
  memory_bytes?: number;
  memory_limit_bytes?: number;
}

export interface DirEntry {
  name: string;
  kind: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  mtime_ms: number;
}

export interface FileMeta {
  path: string;
  size: number;
  etag: string;
}

export interface TermInfo {
  id: string;
  shell: string;
  cols: number;
  rows: number;
  exit_code: number | null;
}

export const ws = (id: string) => `/api/v1/workspaces/${encodeURIComponent(id)}`;
export const q = (params: Record<string, string | number | boolean>) =>
  '?' + new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString();

/// Reads a server-sent event stream with the Authorization header (which
/// EventSource cannot send). Calls `onEvent` per event; resolves when the
/// stream ends; abort with the signal.
export async function sse(path: string, signal: AbortSignal, onEvent: (name: string, data: string) => void): Promise<void> {
  const resp = await fetch(path, { headers: { Authorization: `Bearer ${token()}` }, signal });
  if (!resp.ok || !resp.body) await raise(resp);
  const reader = resp.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let idx;
    while ((idx = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, idx);
      buf = buf.slice(idx + 2);
      let name = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length) onEvent(name, data.join('\n'));
    }
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
