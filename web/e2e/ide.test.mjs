// Browser test of the web IDE against the real server and engine: log in,
// create a workspace from a template, run a command in a terminal, create
// and edit a file in the editor, save, see it from the terminal, stop and
// delete the workspace. Takes the screenshots in docs/images/.
//
// Needs AICOCKPIT_BIN (the server binary) and a running engine (DOCKER_HOST);
// scripts/test provides both.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const images = join(here, '..', '..', 'docs', 'images');
const BIN = process.env.AICOCKPIT_BIN;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const USER = 'tester';
const PASSWORD = 'tester-password-1';

let server, browser, base, dataDir, token;

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function api(method, path, body) {
  const r = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return r.status === 204 ? null : r.json();
}

before(async () => {
  assert.ok(BIN, 'AICOCKPIT_BIN must name the aicockpit binary (scripts/test sets it)');
  dataDir = mkdtempSync(join(tmpdir(), 'aicockpit-web-'));
  const env = { ...process.env, AICOCKPIT_SERVER__DATA_DIR: dataDir, AICOCKPIT_LOG: 'warn' };
  execFileSync(BIN, ['users', 'add', USER, '--role', 'admin', '--password-stdin'], { env, input: PASSWORD + '\n' });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(base + '/health')).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  const login = await (await fetch(base + '/api/v1/auth/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: USER, password: PASSWORD }),
  })).json();
  token = login.token;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  mkdirSync(images, { recursive: true });
});

after(async () => {
  // Whatever the test left behind goes, even after a failure.
  if (token) {
    for (const w of (await api('GET', '/api/v1/workspaces').catch(() => [])) || []) {
      await api('DELETE', `/api/v1/workspaces/${w.id}?purge=true`).catch(() => {});
    }
  }
  await browser?.close();
  server?.kill('SIGTERM');
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('a user works in a workspace from login to delete', { timeout: 180_000 }, async () => {
  const context = await browser.newContext({ viewport: { width: 1400, height: 860 }, colorScheme: 'light' });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));

  const t0 = Date.now();
  await page.goto(base + '/');
  await page.getByLabel('Username').waitFor();
  const ttiLogin = Date.now() - t0;
  await page.getByLabel('Username').fill(USER);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Workspaces' }).waitFor();

  // Create from a template.
  await page.getByRole('button', { name: /New workspace|Create your first/ }).first().click();
  await page.locator('select[name=template]').selectOption('base');
  await page.locator('input[name=name]').fill('webtest');
  await page.locator('input[name=memory]').fill('768');
  await page.getByRole('dialog').getByRole('button', { name: 'Create', exact: true }).click();
  await page.waitForURL(/\/w\/[0-9a-f]+/, { timeout: 60_000 });

  // A terminal opens by itself; run a command in it.
  const term = page.locator('.term-view[data-status=connected]').first();
  await term.waitFor({ timeout: 30_000 });
  await term.click();
  await page.keyboard.type('echo hello-$((40+2))\n');
  await page.locator('.xterm-rows', { hasText: 'hello-42' }).first().waitFor({ timeout: 15_000 });

  // A new file, written in the editor and saved with Ctrl+S.
  page.once('dialog', (d) => d.accept('notes.txt'));
  await page.getByRole('button', { name: 'New file' }).click();
  await page.locator('.tab[data-path="notes.txt"]').waitFor();
  await page.locator('.monaco-editor .view-lines').first().click();
  await page.keyboard.type('written in the editor');
  await page.locator('.tab[data-path="notes.txt"] .dirty').waitFor();
  await page.keyboard.press('Control+s');
  await page.locator('.tab[data-path="notes.txt"] .dirty').waitFor({ state: 'detached' });
  assert.match(page.url(), /file=notes.txt/, 'the URL deep-links the open file');

  // The terminal sees what the editor saved; the tree shows the new file.
  await term.click();
  await page.keyboard.type('cat notes.txt; echo; echo tree-$((2*3)) > made-in-terminal.txt\n');
  await page.locator('.xterm-rows', { hasText: 'written in the editor' }).first().waitFor({ timeout: 15_000 });
  await page.locator('.tree-row[data-path="made-in-terminal.txt"]').waitFor({ timeout: 15_000 });
  await page.screenshot({ path: join(images, 'ide.png') });

  // A deep link opens the workspace and the file directly.
  const ideUrl = page.url();
  const t1 = Date.now();
  await page.goto(ideUrl);
  await page.locator('.tab.active[data-path="notes.txt"]').waitFor();
  await page.locator('.monaco-editor .view-lines', { hasText: 'written in the editor' }).waitFor();
  await page.locator('.term-view[data-status=connected]').first().waitFor();
  const ttiIde = Date.now() - t1;

  // Back on the dashboard: live state and resource use.
  await page.goto(base + '/');
  const row = page.locator('tr[data-workspace=webtest]');
  await row.locator('.state-running').waitFor();
  await row.getByText(/MiB$/).first().waitFor();
  await page.waitForTimeout(3500); // a second sample gives the CPU rate
  await page.screenshot({ path: join(images, 'dashboard.png') });

  await row.getByRole('button', { name: 'Stop' }).click();
  await row.locator('.state-stopped').waitFor({ timeout: 30_000 });
  await row.getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('dialog').getByRole('checkbox').check();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
  await row.waitFor({ state: 'detached', timeout: 30_000 });
  assert.deepEqual(await api('GET', '/api/v1/workspaces'), []);

  assert.deepEqual(problems, [], 'no errors in the page');
  console.log(`time to interactive on loopback: login page ${ttiLogin} ms, IDE (reload with editor and terminal ready) ${ttiIde} ms`);
  await context.close();
});
