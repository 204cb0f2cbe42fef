// A scripted OpenAI-compatible upstream for the browser tests whose answer
// must be exact (inline completion, Ctrl+K): deterministic, instant, and
// independent of how fast the machine runs a real model.
import { createServer } from 'node:http';

export const COMPLETION = 'a * b';
export const REWRITE = 'def add(a, b):\n    """Add two numbers."""\n    return a + b\n';

function readBody(req) {
  return new Promise((resolve) => {
    let s = '';
    req.on('data', (c) => (s += c));
    req.on('end', () => {
      try {
        resolve(JSON.parse(s || '{}'));
      } catch {
        resolve({});
      }
    });
  });
}

/// `command`: an agent run (a request offering tools) is answered with one
/// `run_command` call of it, then, once its result is back, with "done".
export async function startScriptedModel({ command } = {}) {
  const requests = [];
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    requests.push({ url: req.url, body });
    const json = (o) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(o));
    };
    if (req.url.endsWith('/models')) return json({ object: 'list', data: [{ id: 'scripted', object: 'model' }] });
    if (req.url.endsWith('/completions') && !req.url.endsWith('/chat/completions')) {
      // Only a prompt that ends where the test pauses (`return `) gets the
      // completion, so a request sent mid-typing cannot put stale text on
      // screen.
      const text = typeof body.prompt === 'string' && /return\s+$/.test(body.prompt) ? COMPLETION : '';
      return json({ id: 'c1', object: 'text_completion', model: 'scripted', choices: [{ index: 0, text, finish_reason: 'stop' }] });
    }
    if (req.url.endsWith('/chat/completions') && command && Array.isArray(body.tools)) {
      const last = body.messages?.[body.messages.length - 1];
      const message =
        last?.role === 'tool'
          ? { role: 'assistant', content: 'done' }
          : {
              role: 'assistant',
              content: null,
              tool_calls: [{ id: `call_${requests.length}`, type: 'function', function: { name: 'run_command', arguments: JSON.stringify({ command }) } }],
            };
      return json({ id: 'r1', object: 'chat.completion', model: 'scripted', choices: [{ index: 0, message, finish_reason: message.tool_calls ? 'tool_calls' : 'stop' }], usage: { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25 } });
    }
    if (req.url.endsWith('/chat/completions')) {
      const content = REWRITE;
      if (!body.stream) {
        return json({ id: 'x1', object: 'chat.completion', model: 'scripted', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] });
      }
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      for (const piece of content.match(/[\s\S]{1,8}/g)) {
        res.write(`data: ${JSON.stringify({ id: 'x1', object: 'chat.completion.chunk', model: 'scripted', choices: [{ index: 0, delta: { content: piece } }] })}\n\n`);
      }
      res.write(`data: ${JSON.stringify({ id: 'x1', object: 'chat.completion.chunk', model: 'scripted', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
      return res.end('data: [DONE]\n\n');
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/v1`;
  return { url, requests, stop: () => new Promise((r) => server.close(r)) };
}
