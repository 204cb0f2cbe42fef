// Shared set-up for the browser tests: the real server binary on a free
// port with a fresh data dir and an admin, and Debian's Chromium.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const images = join(here, '..', '..', 'docs', 'images');
export const USER = 'tester';
export const PASSWORD = 'tester-password-1';

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

export async function startHarness() {
  const BIN = process.env.AICOCKPIT_BIN;
  assert.ok(BIN, 'AICOCKPIT_BIN must name the aicockpit binary (scripts/test sets it)');
  const dataDir = mkdtempSync(join(tmpdir(), 'aicockpit-web-'));
  const env = { ...process.env, AICOCKPIT_SERVER__DATA_DIR: dataDir, AICOCKPIT_LOG: 'warn' };
  // The web app as built in this checkout (scripts/web.sh), rather than the
  // copy embedded in the binary, which may be older.
  const dist = join(here, '..', 'dist');
  if (!env.AICOCKPIT_SERVER__WEB_DIR && existsSync(join(dist, 'index.html'))) env.AICOCKPIT_SERVER__WEB_DIR = dist;
  execFileSync(BIN, ['users', 'add', USER, '--role', 'admin', '--password-stdin'], { env, input: PASSWORD + '\n' });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(base + '/health')).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  const login = await (
    await fetch(base + '/api/v1/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: USER, password: PASSWORD }),
    })
  ).json();
  const token = login.token;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  mkdirSync(images, { recursive: true });
  // A call with any token: `{status, body}` (body null for 204 or no JSON).
  const call = async (tok, method, path, body) => {
    const r = await fetch(base + path, {
      method,
      headers: { ...(tok ? { Authorization: `Bearer ${tok}` } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {}
    return { status: r.status, body: json };
  };
  const api = async (method, path, body) => (await call(token, method, path, body)).body;
  // A session token for another user (by password).
  const loginAs = async (username, password) => {
    const r = await call(null, 'POST', '/api/v1/auth/login', { username, password });
    assert.equal(r.status, 200, `login of ${username}: ${JSON.stringify(r.body)}`);
    return r.body.token;
  };
  const stop = async () => {
    for (const w of (await api('GET', '/api/v1/workspaces').catch(() => [])) || []) {
      await api('DELETE', `/api/v1/workspaces/${w.id}?purge=true`).catch(() => {});
    }
    await browser.close();
    server.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  };
  // Logs the page in by putting the session token where the app keeps it.
  const page = async (opts = {}) => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 860 }, colorScheme: 'light', ...opts });
    const p = await context.newPage();
    const problems = [];
    p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    // ERR_NETWORK_CHANGED is Chromium noticing the host's interfaces change
    // (the engine adds and removes workspace bridges while other tests
    // run), not something the app did.
    // A failed request's console line names no URL: its location does.
    p.on('console', (m) => {
      if (m.type() !== 'error' || /net::ERR_NETWORK_CHANGED/.test(m.text())) return;
      const at = m.location()?.url;
      problems.push(`console: ${m.text()}${at ? ` (${at.replace(/^https?:\/\/[^/]+/, '')})` : ''}`);
    });
    return { context, page: p, problems };
  };
  // A page already signed in with `tok` (the admin's unless given).
  const pageAs = async (tok = token, opts = {}) => {
    const p = await page(opts);
    await p.page.goto(base + '/login');
    await p.page.evaluate((t) => localStorage.setItem('aicockpit.token', t), tok);
    return p;
  };
  return { base, token, browser, api, call, loginAs, stop, page, pageAs };
}
