// The OpenAI-compatible gateway (`/v1`): models, chat completions (whole or
// streamed) and fill-in-the-middle text completions.
import { get, post, send } from './http';
import { readEvents } from './sse';
import type { ChatChunk, ChatRequest, ChatResponse, CompletionRequest, CompletionResponse, ModelList } from './types';

export const listModels = () => get<ModelList>('/v1/models');

/// A whole chat completion; a refusal is an `ApiError`.
export const chat = (body: ChatRequest) => post<ChatResponse>('/v1/chat/completions', body);

/// A whole chat completion's text, or '' when the gateway refuses (for
/// suggestions that may quietly not appear). Network errors and aborts throw.
export async function chatText(body: ChatRequest, signal: AbortSignal): Promise<string> {
  const r = await send('POST', '/v1/chat/completions', { body, signal });
  if (!r.ok) return '';
  const j: ChatResponse = await r.json();
  return j.choices?.[0]?.message?.content ?? '';
}

/// A text completion, refused or not: `status` is the gateway's (400 or 404
/// when the service has no completions endpoint); `text` is '' unless `ok`.
export async function complete(body: CompletionRequest, signal: AbortSignal): Promise<{ ok: boolean; status: number; text: string }> {
  const r = await send('POST', '/v1/completions', { body, signal });
  if (!r.ok) return { ok: false, status: r.status, text: '' };
  const j: CompletionResponse = await r.json();
  return { ok: true, status: r.status, text: j.choices?.[0]?.text ?? '' };
}

/// Streams a chat completion: `onText` gets the answer so far after every
/// chunk; resolves with the whole answer. A refusal or an error inside the
/// stream throws an Error with the gateway's message; an abort through
/// `signal` throws the AbortError.
export async function streamChat(body: ChatRequest, signal: AbortSignal, onText: (soFar: string) => void): Promise<string> {
  const r = await send('POST', '/v1/chat/completions', { body: { ...body, stream: true }, signal });
  if (!r.ok || !r.body) throw new Error((await r.json().catch(() => null))?.error?.message || `HTTP ${r.status}`);
  let text = '';
  await readEvents(
    r.body,
    (e) => {
      const data = e.data.trim();
      if (!data || data === '[DONE]') return;
      const chunk: ChatChunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message);
      text += chunk.choices?.[0]?.delta?.content ?? '';
      onText(text);
    },
    signal,
  );
  return text;
}
