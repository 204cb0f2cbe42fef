// The AI panel in the browser with the real local model server (llama.cpp,
// SmolLM2): a chat answer streams in. Takes docs/images/ai-chat.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startHarness, images } from './harness.mjs';

let h;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.stop();
});

test('chat with a real model streams an answer in the IDE', { timeout: 180_000 }, async () => {
  const llm = process.env.AICOCKPIT_TEST_LLM_URL;
  assert.ok(llm, 'AICOCKPIT_TEST_LLM_URL must name the local model server (scripts/test starts it)');
  const svc = await h.api('POST', '/api/v1/ai/services', { name: 'local', kind: 'custom', base_url: llm, default_model: 'smollm2' });
  assert.equal(svc.name, 'local');
  const w = await h.api('POST', '/api/v1/workspaces', { name: 'aichat', template: 'base' });
  assert.equal(w.state, 'running');

  const { context, page, problems } = await h.page();
  await page.goto(h.base + '/login');
  await page.evaluate((t) => localStorage.setItem('aicockpit.token', t), h.token);
  await page.goto(`${h.base}/w/${w.id}`);
  const input = page.locator('.chat-input');
  await input.waitFor();
  await input.fill('Write one short sentence about containers.');
  await page.keyboard.press('Enter');
  // The answer streams into the assistant bubble.
  const bubble = page.locator('.bubble.assistant').last();
  await page.waitForFunction(
    () => {
      const b = [...document.querySelectorAll('.bubble.assistant')].pop();
      return b && b.textContent && b.textContent.trim().length > 12 && !b.textContent.includes('…');
    },
    null,
    { timeout: 60_000 },
  );
  await page.getByRole('button', { name: 'Send' }).waitFor({ timeout: 60_000 });
  assert.ok((await bubble.textContent()).trim().length > 0);
  await page.screenshot({ path: join(images, 'ai-chat.png') });
  // The conversation is kept on the server.
  const convs = await h.api('GET', `/api/v1/workspaces/${w.id}/conversations`);
  assert.equal(convs.length, 1);
  assert.match(convs[0].title, /containers/);
  const conv = await h.api('GET', `/api/v1/workspaces/${w.id}/conversations/${convs[0].id}`);
  assert.equal(conv.messages.length, 2);
  assert.equal(conv.messages[0].role, 'user');

  // Command help: a suggestion, run only after confirming.
  const help = page.getByPlaceholder(/Describe a command/);
  await help.fill('show the current directory');
  await help.press('Enter');
  await page.locator('.cmd-help .suggestion').waitFor({ timeout: 60_000 });
  assert.match(await page.locator('.cmd-help .suggestion').textContent(), /^\$ \S/);
  await page.locator('.cmd-help').getByRole('button', { name: 'Cancel' }).click();

  // Ctrl+K on a selection: the rewrite streams into a diff to accept.
  await h.api('POST', `/api/v1/workspaces/${w.id}/exec`, { argv: ['sh', '-c', 'printf "def add(a, b):\\n    return a + b\\n" > /workspace/calc.py'] });
  await page.goto(`${h.base}/w/${w.id}?file=calc.py`);
  await page.locator('.monaco-editor .view-lines', { hasText: 'return a + b' }).waitFor();

  // Inline completion: typing pauses, the model's fill-in-the-middle shows
  // as ghost text, and Tab accepts it.
  const completions = [];
  page.on('request', (r) => r.url().endsWith('/v1/completions') && completions.push(r.postDataJSON()));
  await page.locator('.monaco-editor .view-lines').first().click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type('\n\ndef multiply(a, b):\n    return');
  await page.locator('.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text').first().waitFor({ timeout: 60_000 });
  assert.ok(completions.some((c) => c.prompt.endsWith('return') && typeof c.suffix === 'string'), JSON.stringify(completions));
  await page.screenshot({ path: join(images, 'ai-completion.png') });
  const lengthBefore = await page.evaluate(() => document.querySelector('.monaco-editor .view-lines').textContent.length);
  await page.keyboard.press('Tab');
  await page.waitForFunction((n) => document.querySelector('.monaco-editor .view-lines').textContent.length > n, lengthBefore);
  await page.keyboard.press('Control+z');

  await page.keyboard.press('Control+a');
  await page.keyboard.press('Control+k');
  const box = page.getByPlaceholder('What should change? (Enter)');
  await box.fill('add a docstring');
  await box.press('Enter');
  const accept = page.getByRole('dialog').getByRole('button', { name: 'Accept' });
  await page.waitForFunction(() => {
    const b = [...document.querySelectorAll('.modal button')].find((x) => x.textContent === 'Accept');
    return b && !b.disabled;
  }, null, { timeout: 60_000 });
  await page.locator('.diff-host .editor.modified .view-lines').first().waitFor();
  await page.screenshot({ path: join(images, 'ai-edit.png') });
  await accept.click();
  await page.getByRole('dialog').waitFor({ state: 'detached' });
  await page.locator('.tab[data-path="calc.py"] .dirty').waitFor();

  // Monaco throws its own "Canceled" when a stale inline-suggestion request
  // is superseded by typing; that is the cancellation working, not a fault.
  assert.deepEqual(problems.filter((p) => p !== 'page error: Canceled'), []);
  await context.close();
});
