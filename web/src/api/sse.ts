// The one Server-Sent-Events reader: every stream the web app reads (run
// events, file watches, streamed chat completions) is parsed here.
import { request } from './http';

export interface SseEvent {
  /// The `event:` field; `message` when the event has none.
  event: string;
  /// The `data:` lines, joined with newlines.
  data: string;
  /// The last `id:` seen on the stream.
  id: string;
}

/// Parses the `text/event-stream` format as the HTML standard defines it:
/// lines end with CRLF, LF or CR; a blank line dispatches the event; lines
/// starting with `:` are comments (keep-alives); `field: value` drops one
/// space after the colon; several `data:` lines join with newlines; an event
/// without data is not dispatched; an unterminated event at the end is dropped.
class SseParser {
  private buf = '';
  private data: string[] = [];
  private event = '';
  private id = '';

  constructor(private onEvent: (e: SseEvent) => void) {}

  feed(text: string) {
    this.buf += text;
    let start = 0;
    for (let i = 0; i < this.buf.length; i++) {
      const c = this.buf[i];
      if (c !== '\n' && c !== '\r') continue;
      // A CR at the end may be the first half of a CRLF: wait for more.
      if (c === '\r' && i === this.buf.length - 1) break;
      this.line(this.buf.slice(start, i));
      if (c === '\r' && this.buf[i + 1] === '\n') i++;
      start = i + 1;
    }
    this.buf = this.buf.slice(start);
  }

  end() {
    if (this.buf.endsWith('\r')) this.line(this.buf.slice(0, -1));
    this.buf = '';
  }

  private line(l: string) {
    if (l === '') return this.dispatch();
    if (l.startsWith(':')) return;
    const colon = l.indexOf(':');
    const field = colon < 0 ? l : l.slice(0, colon);
    let value = colon < 0 ? '' : l.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.id = value;
    // `retry:` and unknown fields are ignored.
  }

  private dispatch() {
    const data = this.data;
    const event = this.event || 'message';
    this.data = [];
    this.event = '';
    if (data.length) this.onEvent({ event, data: data.join('\n'), id: this.id });
  }
}

/// Reads an event stream body to its end, calling `onEvent` per event.
/// Aborting `signal` stops the reading and rejects with the abort reason;
/// an exception from `onEvent` stops it too and is rethrown.
export async function readEvents(body: ReadableStream<Uint8Array>, onEvent: (e: SseEvent) => void, signal?: AbortSignal): Promise<void> {
  const reader = body.getReader();
  const parser = new SseParser(onEvent);
  const decoder = new TextDecoder();
  const cancel = () => reader.cancel().catch(() => {});
  signal?.addEventListener('abort', cancel);
  let finished = false;
  try {
    for (;;) {
      signal?.throwIfAborted();
      const { value, done } = await reader.read();
      signal?.throwIfAborted();
      if (done) {
        finished = true;
        parser.feed(decoder.decode());
        parser.end();
        return;
      }
      parser.feed(decoder.decode(value, { stream: true }));
    }
  } finally {
    signal?.removeEventListener('abort', cancel);
    if (!finished) cancel();
  }
}

/// Subscribes to one of the API's event streams (GET with the session token,
/// which EventSource cannot send). Resolves when the stream ends; rejects
/// with `ApiError` when the server refuses, or the abort reason.
export async function subscribe(path: string, signal: AbortSignal, onEvent: (e: SseEvent) => void): Promise<void> {
  const resp = await request('GET', path, undefined, {}, signal);
  if (!resp.body) return;
  await readEvents(resp.body, onEvent, signal);
}
