// Browser test of the web IDE against the real server and engine: log in,
// create a workspace from a template and an archive, run a command in a terminal, create
// and edit a file in the editor, save, see it from the terminal, keep it
// from idle stop, stop it, reopen it (which starts it) and delete it.
// Takes the screenshots in docs/images/.
//
// Needs AICOCKPIT_BIN (the server binary) and a running engine (DOCKER_HOST);
// scripts/test provides both.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startHarness, images, USER, PASSWORD } from './harness.mjs';

let h, base, browser, api;

before(async () => {
  h = await startHarness();
  ({ base, browser, api } = h);
});

after(async () => {
  // Whatever the test left behind goes, even after a failure.
  await h?.stop();
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
  // Started from an archive of a project.
  const src = mkdtempSync(join(tmpdir(), 'aicockpit-archive-'));
  writeFileSync(join(src, 'from-archive.txt'), 'unpacked\n');
  execFileSync('tar', ['czf', join(src, 'project.tar.gz'), '-C', src, 'from-archive.txt']);
  await page.locator('input[name=archive]').setInputFiles(join(src, 'project.tar.gz'));
  await page.getByRole('dialog').getByRole('button', { name: 'Create', exact: true }).click();
  await page.waitForURL(/\/w\/[0-9a-f]+/, { timeout: 60_000 });

  await page.locator('.tree-row[data-path="from-archive.txt"]').waitFor({ timeout: 30_000 });

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

  // A server started in the terminal shows up among the ports.
  await term.click();
  await page.keyboard.type("nohup perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(LocalPort=>5173,Listen=>1,ReuseAddr=>1); sleep 600' >/dev/null 2>&1 &\n");
  await page.locator('[data-testid=ports] button', { hasText: '5173' }).waitFor({ timeout: 15_000 });

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

  // Idle stop: when it would stop, and keeping it running.
  const idle = page.locator('[data-testid=idle]');
  await idle.filter({ hasText: /stops at .* if idle/ }).waitFor();
  await idle.getByRole('button', { name: 'Keep running' }).click();
  await idle.filter({ hasText: /kept running until/ }).waitFor();

  // Back on the dashboard: live state and resource use.
  await page.goto(base + '/');
  const row = page.locator('tr[data-workspace=webtest]');
  await row.locator('.state-running').waitFor();
  await row.getByText(/MiB$/).first().waitFor();
  await page.locator('[data-testid=quota]', { hasText: /1 of \d+ workspaces · 1 of \d+ running/ }).waitFor();
  await page.waitForTimeout(3500); // a second sample gives the CPU rate
  await page.screenshot({ path: join(images, 'dashboard.png') });

  await row.getByRole('button', { name: 'Stop' }).click();
  await row.locator('.state-stopped').waitFor({ timeout: 30_000 });
  // Opening a stopped workspace starts it.
  await page.goto(ideUrl);
  await page.locator('[data-testid=ws-state]', { hasText: 'running' }).waitFor({ timeout: 30_000 });
  await page.goto(base + '/');
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
