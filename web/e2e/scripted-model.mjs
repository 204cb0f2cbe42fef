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

export async function startScriptedModel() {
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
