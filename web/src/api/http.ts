// The transport of every API call: the session token, the one `fetch`,
// JSON helpers, and errors in the server's `{"error": {"code", "message"}}` shape.

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
/// Called on every 401 from the server (the session ended).
export function onUnauthorized(l: Listener): () => void {
  unauthorizedListeners.add(l);
  return () => unauthorizedListeners.delete(l);
}

const passwordListeners = new Set<Listener>();
/// Called when the server refuses a call until the user chooses a new
/// password (403 `password_change_required`).
export function onPasswordChangeRequired(l: Listener): () => void {
  passwordListeners.add(l);
  return () => passwordListeners.delete(l);
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
  if (resp.status === 403 && code === 'password_change_required') passwordListeners.forEach((l) => l());
  throw new ApiError(resp.status, code, message);
}

export interface SendOptions {
  /// JSON-encoded unless a Blob, FormData, string or ArrayBuffer.
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/// Sends one request with the session token and returns the response
/// whatever its status; network and abort errors are thrown as `fetch`
/// throws them. The `/v1` gateway's callers use it where a refusal is an
/// answer (no completions endpoint) rather than an error; everything else
/// goes through `request`.
export async function send(method: string, path: string, { body, headers = {}, signal }: SendOptions = {}): Promise<Response> {
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
  return fetch(path, { method, headers: h, body: payload, signal });
}

/// A request that must succeed: throws `ApiError` for a refusal (and tells
/// the unauthorized listeners about a 401) or when the server is unreachable;
/// an abort through `signal` is rethrown as is.
export async function request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  let resp: Response;
  try {
    resp = await send(method, path, { body, headers, signal });
  } catch (e) {
    if (signal?.aborted) throw e;
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
export const put = <T>(path: string, body?: unknown) => json<T>('PUT', path, body);
export const del = <T>(path: string) => json<T>('DELETE', path);
export const patch = <T>(path: string, body?: unknown) => json<T>('PATCH', path, body);

/// A query string (`?a=1&b=x`) from the given parameters; undefined ones are left out.
export const q = (params: Record<string, string | number | boolean | undefined>) =>
  '?' +
  new URLSearchParams(
    Object.entries(params)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, String(v)]),
  ).toString();

/// One path segment (an id or a name), escaped.
export const seg = (s: string) => encodeURIComponent(s);

/// The message to show for a failed call.
export const errorMessage = (e: unknown) => (e instanceof ApiError ? e.message : String(e));
