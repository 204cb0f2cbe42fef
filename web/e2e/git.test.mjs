// Creating a workspace from a git repository in the dashboard (#13): the
// clone's progress shows live in the create dialog, the IDE opens on the
// cloned files; a clone that fails says why and the workspace stays.
// Against a real git server (git's http-backend, held back 2 s per pack so
// the progress can be watched) on this host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Outside the address pool the host firewall guards (other servers on
// this machine keep that chain), so these workspaces reach this host.
process.env.AICOCKPIT_WORKSPACES__NETWORK_POOL = '10.221.0.0/16';
process.env.AICOCKPIT_WORKSPACES__BLOCK_HOST_ACCESS = 'false';
const { startHarness } = await import('./harness.mjs');

const here = dirname(fileURLToPath(import.meta.url));
const git = (cwd, ...args) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd }).toString().trim();

/// An address of this host a workspace's bridge routes to.
const hostIp = () =>
  new Promise((resolve) => {
    const s = createSocket('udp4');
    s.connect(53, '8.8.8.8', (err) => {
      const ip = err ? '172.17.0.1' : s.address().address;
      s.close();
      resolve(ip);
    });
  });

const freePort = () =>
  new Promise((resolve) => {
    const srv = createServer().listen(0, '0.0.0.0', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });

const TOKEN = 'tok-browser-5be1d0c3a9';
let h;
let gitServer;
let url;
let origin;
before(async () => {
  const root = mkdtempSync(join(tmpdir(), 'aicockpit-git-'));
  const work = join(root, 'work');
  mkdirSync(work);
  git(work, 'init', '-q', '-b', 'main');
  writeFileSync(join(work, 'hello.txt'), 'cloned in the browser\n');
  git(work, 'add', '.');
  git(work, 'commit', '-q', '-m', 'one');
  writeFileSync(join(work, 'two.txt'), 'a second commit, left out of a shallow clone\n');
  git(work, 'add', '.');
  git(work, 'commit', '-q', '-m', 'two');
  mkdirSync(join(root, 'repos'));
  git(root, 'clone', '-q', '--bare', 'work', 'repos/project.git');
  // A project with a devcontainer.json built FROM the local base image; a
  // context of its own per run, so the build is seen (built images are
  // kept on the engine by content).
  const dc = join(root, 'dc');
  mkdirSync(join(dc, '.devcontainer'), { recursive: true });
  git(dc, 'init', '-q', '-b', 'main');
  writeFileSync(
    join(dc, '.devcontainer', 'devcontainer.json'),
    JSON.stringify({
      name: 'browser-demo',
      build: { dockerfile: 'Dockerfile' },
      containerEnv: { PROJECT_MODE: 'devcontainer' },
      remoteUser: 'dev',
      forwardPorts: [5173],
      portsAttributes: { 5173: { label: 'Vite' }, 9229: { onAutoForward: 'ignore' }, 3000: { onAutoForward: 'openPreview' } },
      postCreateCommand: 'echo made > made.txt',
    }),
  );
  writeFileSync(join(dc, '.devcontainer', 'Dockerfile'), `FROM localhost/aicockpit/base:latest\nRUN echo ${Date.now()} > /tmp/nonce && sleep 4\n`);
  writeFileSync(join(dc, 'app.txt'), 'a project with a dev container\n');
  git(dc, 'add', '.');
  git(dc, 'commit', '-q', '-m', 'dc');
  git(root, 'clone', '-q', '--bare', 'dc', 'repos/dc.git');
  // Dotfiles whose install script takes a moment, so its step is seen.
  const dots = join(root, 'dots');
  mkdirSync(dots);
  git(dots, 'init', '-q', '-b', 'main');
  writeFileSync(join(dots, 'install.sh'), '#!/bin/sh\necho "dotfiles for $(id -un)"\nsleep 3\necho yes > "$HOME/.dots-installed"\n', { mode: 0o755 });
  git(dots, 'add', '.');
  git(dots, 'commit', '-q', '-m', 'dots');
  git(root, 'clone', '-q', '--bare', 'dots', 'repos/dots.git');
  mkdirSync(join(root, 'repos', 'private'));
  git(root, 'clone', '-q', '--bare', 'work', 'repos/private/secret.git');
  const port = await freePort();
  const python = process.env.AICOCKPIT_TEST_PYTHON || 'python3';
  const fixture = join(here, '..', '..', 'crates', 'aicockpit', 'tests', 'fixtures', 'git_http.py');
  gitServer = spawn(python, [fixture, String(port), join(root, 'repos'), '2', `alice:${TOKEN}`], { stdio: 'ignore' });
  origin = `http://${await hostIp()}:${port}`;
  url = `${origin}/project.git`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/project.git/info/refs?service=git-upload-pack`)).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  h = await startHarness();
});
after(async () => {
  gitServer?.kill();
  await h?.stop();
});

test('dashboard: a workspace from a git repository shows its clone live and opens on the files', { timeout: 300_000 }, async () => {
  const { page, problems } = await h.pageAs();
  await page.goto(h.base + '/');
  await page.getByRole('button', { name: /New workspace|Create your first/ }).first().click();
  const dialog = page.getByRole('dialog');
  await page.locator('input[name=name]').fill('from-git');
  await page.locator('input[name=git-url]').fill(url);
  await page.locator('input[name=git-ref]').fill('main');
  await page.locator('input[name=git-depth]').fill('1');
  await page.locator('input[name=git-submodules]').check();
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  // Live: git's first line is there while the server still holds the pack.
  const log = dialog.getByRole('log', { name: 'Setup progress' });
  await log
    .filter({ hasText: "Cloning into '.'" })
    .waitFor({ timeout: 60_000 })
    .catch(async (e) => assert.fail(`${e.message}\n${await dialog.innerText().catch(() => page.content())}`));
  assert.doesNotMatch(await log.innerText(), /aicockpit: cloned/, 'seen before the clone ended');
  await page.waitForURL(/\/w\/[0-9a-f]+/, { timeout: 60_000 });
  await page.locator('.tree-row[data-path="hello.txt"]').waitFor({ timeout: 30_000 });
  // Shallow, as asked: one commit of two.
  const count = await h.api('POST', '/api/v1/workspaces/from-git/exec', { argv: ['git', '-C', '/workspace', 'rev-list', '--count', 'HEAD'] });
  assert.equal(count.stdout, '1\n', JSON.stringify(count));

  // A ref the repository does not have: the dialog says so; the workspace
  // is there, and can be opened.
  await page.goto(h.base + '/');
  await page.getByRole('button', { name: /New workspace|Create your first/ }).first().click();
  await page.locator('input[name=name]').fill('bad-ref');
  await page.locator('input[name=git-url]').fill(url);
  await page.locator('input[name=git-ref]').fill('no-such-branch');
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  await dialog.getByRole('alert').filter({ hasText: 'no such branch, tag or commit' }).waitFor({ timeout: 60_000 });
  assert.match(await log.innerText(), /no-such-branch/);
  await dialog.getByRole('button', { name: 'Open it anyway' }).click();
  await page.waitForURL(/\/w\/[0-9a-f]+/, { timeout: 60_000 });
  const list = await h.api('GET', '/api/v1/workspaces');
  assert.equal(list.find((w) => w.name === 'bad-ref')?.state, 'running');
  // The IDE flags the failed clone, and its log is there to read.
  const flag = page.getByTestId('setup-history');
  await flag.filter({ hasText: 'Clone failed' }).waitFor({ timeout: 10_000 });
  await flag.click();
  const kept = page.getByRole('dialog', { name: 'Setups' });
  await kept.getByRole('log', { name: 'Setup log' }).filter({ hasText: 'no-such-branch' }).waitFor({ timeout: 10_000 });
  assert.match(await kept.getByRole('alert').innerText(), /no such branch, tag or commit/);
  assert.match(await kept.getByTestId('setup-entry').first().innerText(), /Clone .* failed \(unknown_ref\)/);
  await kept.getByRole('button', { name: 'Close' }).click();
  assert.deepEqual(problems, []);
});

test('dashboard: a repository with a devcontainer.json shows its build live, and the IDE shows what was applied and rebuilds it', { timeout: 300_000 }, async () => {
  const { page, problems } = await h.pageAs();
  await page.goto(h.base + '/');
  await page.getByRole('button', { name: /New workspace|Create your first/ }).first().click();
  const dialog = page.getByRole('dialog');
  await page.locator('input[name=name]').fill('with-dc');
  await page.locator('input[name=git-url]').fill(`${origin}/dc.git`);
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  // Live: the build's own output and step while it runs.
  const log = dialog.getByRole('log', { name: 'Setup progress' });
  await log
    .filter({ hasText: /Step \d|STEP \d/ })
    .waitFor({ timeout: 90_000 })
    .catch(async (e) => assert.fail(`${e.message}\n${await dialog.innerText().catch(() => page.content())}`));
  assert.match(await dialog.getByTestId('setup-step').innerText(), /Getting the image/);
  assert.doesNotMatch(await log.innerText(), /running postCreateCommand/, 'seen before the build ended');
  await page.waitForURL(/\/w\/[0-9a-f]+/, { timeout: 120_000 }).catch(async (e) => assert.fail(`${e.message}\n${await dialog.innerText().catch(() => '')}`));
  await page.locator('.tree-row[data-path="made.txt"]').waitFor({ timeout: 30_000 });
  // The forwarded port is listed with its label before anything listens.
  await page.getByTestId('port-5173').filter({ hasText: 'Vite' }).waitFor({ timeout: 10_000 });
  // What was applied.
  await page.getByTestId('devcontainer').filter({ hasText: 'browser-demo' }).click();
  const facts = page.getByTestId('devcontainer-facts');
  await facts.waitFor();
  const text = await facts.innerText();
  assert.match(text, /built from Dockerfile/);
  assert.match(text, /PROJECT_MODE=devcontainer/);
  assert.match(text, /5173 \(Vite\)/);
  // Rebuilt from the menu: its log in a dialog, the same files after.
  await page.getByRole('menuitem', { name: 'Rebuild container' }).click();
  const rebuild = page.getByRole('dialog', { name: 'Rebuild' });
  await rebuild
    .getByTestId('setup-step')
    .filter({ hasText: 'Rebuilt.' })
    .waitFor({ timeout: 120_000 })
    .catch(async (e) => {
      const shown = await page.locator('body').innerText({ timeout: 5_000 }).catch((x) => String(x));
      const id = (await h.api('GET', '/api/v1/workspaces')).find((x) => x.name === 'with-dc')?.id;
      const setup = await h.api('GET', `/api/v1/workspaces/${id}/setup`).catch((x) => String(x));
      assert.fail(`${e.message}\npage: ${shown}\nsetup: ${JSON.stringify(setup)}\nproblems: ${problems.join('\n')}`);
    });
  assert.match(await rebuild.getByRole('log', { name: 'Rebuild progress' }).innerText(), /was built before/);
  await rebuild.getByRole('button', { name: 'Close' }).click();
  const w = (await h.api('GET', '/api/v1/workspaces')).find((x) => x.name === 'with-dc');
  // Ports that start listening now are announced by their onAutoForward
  // (5173: the default, notify); 9229 says ignore: neither announced nor listed.
  const listen = (port) => `nohup perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(LocalPort=>${port},Listen=>5,ReuseAddr=>1) or die; sleep 300' >/dev/null 2>&1 &`;
  const started = await h.api('POST', `/api/v1/workspaces/${w.id}/exec`, { argv: ['sh', '-c', `${listen(5173)} ${listen(9229)} sleep 1`] });
  assert.equal(started.exit_code, 0, JSON.stringify(started));
  const notice = page.getByTestId('port-notice-5173');
  await notice.waitFor({ timeout: 15_000 }).catch(async (e) => assert.fail(`${e.message}\n${await page.locator('footer').innerText()}\n${JSON.stringify(await h.api('GET', `/api/v1/workspaces/${w.id}/ports`))}`));
  assert.match(await notice.innerText(), /Port 5173 \(Vite\) is listening/);
  assert.equal(await page.getByTestId('port-notice-9229').count(), 0);
  assert.equal(await page.getByTestId('port-9229').count(), 0);
  await notice.getByRole('button', { name: 'Dismiss the notice of port 5173' }).click();
  await notice.waitFor({ state: 'detached', timeout: 5_000 });
  // 3000 says openPreview: its preview opens in the panel by itself.
  const served = await h.api('POST', `/api/v1/workspaces/${w.id}/exec`, { argv: ['sh', '-c', `${listen(3000)} sleep 1`] });
  assert.equal(served.exit_code, 0, JSON.stringify(served));
  await page.locator('iframe[title="Preview of port 3000"]').waitFor({ timeout: 15_000 });
  assert.equal(await page.getByTestId('port-notice-3000').count(), 0);
  await page.getByTestId('preview-panel').getByRole('button', { name: 'Close the preview' }).click();

  assert.match(w.image, /^localhost\/aicockpit\/devcontainer:/);
  assert.equal(w.state, 'running');
  // This page is on 127.0.0.1, not the app's own origin (localhost): the
  // preview of 3000 refuses to be framed here, as it should (the preview
  // test shows the panel itself working from the app's origin).
  const framing = /Framing 'http:\/\/3000--with-dc--tester\.localhost:\d+\/' violates .*frame-ancestors/;
  assert.deepEqual(problems.filter((p) => !framing.test(p)), []);
});

test('account: a git credential typed once lets a private repository clone, and is never shown again', { timeout: 300_000 }, async () => {
  const { page, problems } = await h.pageAs();
  // Without a credential the clone fails, saying where to add one.
  await page.goto(h.base + '/');
  await page.getByRole('button', { name: /New workspace|Create your first/ }).first().click();
  const first = page.getByRole('dialog');
  await page.locator('input[name=name]').fill('no-credential');
  await page.locator('input[name=git-url]').fill(`${origin}/private/secret.git`);
  await first.getByRole('button', { name: 'Create', exact: true }).click();
  await first.getByRole('alert').filter({ hasText: `git credential for ${origin}` }).waitFor({ timeout: 60_000 });
  await first.getByRole('link', { name: /Add a git credential/ }).click();
  await page.waitForURL(/\/account$/);
  await page.goto(h.base + '/account');
  const section = page.getByTestId('git-credentials');
  await section.locator('input[name=git_url]').fill(origin + '/');
  await section.locator('input[name=git_username]').fill('alice');
  await section.locator('input[name=git_token]').fill(TOKEN);
  await section.getByRole('button', { name: 'Add credential' }).click();
  await section.locator(`tr[data-origin="${origin}"]`).waitFor({ timeout: 10_000 });
  assert.equal(await section.locator('input[name=git_token]').inputValue(), '', 'the field is cleared');
  assert.doesNotMatch(await page.content(), new RegExp(TOKEN), 'the token is not on the page');
  // A URL with a path is refused next to its field.
  await section.locator('input[name=git_url]').fill(origin + '/private/secret.git');
  await section.locator('input[name=git_token]').fill('x');
  await section.getByRole('button', { name: 'Add credential' }).click();
  await section.getByText(/server's address only/).waitFor({ timeout: 10_000 });

  await page.goto(h.base + '/');
  await page.getByRole('button', { name: /New workspace|Create your first/ }).first().click();
  const dialog = page.getByRole('dialog');
  await page.locator('input[name=name]').fill('private-git');
  await page.locator('input[name=git-url]').fill(`${origin}/private/secret.git`);
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  await page.waitForURL(/\/w\/[0-9a-f]+/, { timeout: 90_000 }).catch(async (e) => assert.fail(`${e.message}\n${await dialog.innerText().catch(() => '')}`));
  await page.locator('.tree-row[data-path="hello.txt"]').waitFor({ timeout: 30_000 });
  const creds = await h.api('GET', '/api/v1/git-credentials');
  assert.ok(creds[0].last_used_at, JSON.stringify(creds));
  assert.doesNotMatch(JSON.stringify(creds), new RegExp(TOKEN));
  // The one refusal above is the only failed request.
  assert.deepEqual(problems.filter((p) => !/status of 400/.test(p)), []);
  assert.equal(problems.length, 1, problems.join('\n'));
});

test('account: an SSH key made by the server shows its public half only, and can be replaced', { timeout: 120_000 }, async () => {
  const { page, problems } = await h.pageAs();
  await page.goto(h.base + '/account');
  const section = page.getByTestId('ssh-key');
  await section.getByRole('button', { name: 'Make an SSH key' }).click();
  const pub = section.getByTestId('ssh-public-key');
  await pub.waitFor({ timeout: 10_000 });
  const first = await pub.inputValue();
  assert.match(first, /^ssh-ed25519 AAAA\S+ aicockpit:\S+$/);
  assert.doesNotMatch(await page.content(), /PRIVATE KEY/);
  await page.reload();
  assert.equal(await page.getByTestId('ssh-public-key').inputValue(), first, 'the same key after a reload');
  await page.getByTestId('ssh-key').getByRole('button', { name: 'Replace' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Replace' }).click();
  await page.waitForFunction((old) => document.querySelector('[data-testid=ssh-public-key]')?.value !== old, first);
  const api = await h.api('GET', '/api/v1/ssh-key');
  assert.equal(api.public_key, await page.getByTestId('ssh-public-key').inputValue());
  assert.deepEqual(problems, []);
});

test('account: dotfiles set on the account page are installed into the next workspace, live in the create dialog', { timeout: 300_000 }, async () => {
  const { page, problems } = await h.pageAs();
  await page.goto(h.base + '/account');
  const section = page.getByTestId('dotfiles');
  // What git would misread is refused next to the field.
  await section.locator('input[name=dotfiles_url]').fill('file:///etc');
  await section.getByRole('button', { name: 'Use these dotfiles' }).click();
  await section.locator('.field-error').first().waitFor({ timeout: 10_000 });
  assert.equal(await h.api('GET', '/api/v1/dotfiles'), null, 'nothing stored');
  await section.locator('input[name=dotfiles_url]').fill(`${origin}/dots.git`);
  await section.getByRole('button', { name: 'Use these dotfiles' }).click();
  await section.getByTestId('dotfiles-saved').waitFor({ timeout: 10_000 });
  assert.deepEqual(await h.api('GET', '/api/v1/dotfiles'), { url: `${origin}/dots.git`, ref: null });

  // A workspace from a template: the dialog follows the dotfiles' step.
  await page.goto(h.base + '/');
  await page.getByRole('button', { name: /New workspace|Create your first/ }).first().click();
  const dialog = page.getByRole('dialog');
  await page.locator('input[name=name]').fill('with-dots');
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();
  await dialog.getByTestId('setup-step').filter({ hasText: 'Installing your dotfiles' }).waitFor({ timeout: 60_000 });
  const log = dialog.getByRole('log', { name: 'Setup progress' });
  await log.filter({ hasText: 'dotfiles for dev' }).waitFor({ timeout: 60_000 });
  await page.waitForURL(/\/w\/[0-9a-f]+/, { timeout: 60_000 });
  const ran = await h.api('POST', '/api/v1/workspaces/with-dots/exec', { argv: ['sh', '-c', 'cat ~/.dots-installed'] });
  assert.equal(ran.stdout, 'yes\n');

  // Stopped from the account page: nothing stored any more.
  await page.goto(h.base + '/account');
  await page.getByTestId('dotfiles').getByRole('button', { name: 'Stop using dotfiles' }).click();
  await page.getByTestId('dotfiles').getByRole('button', { name: 'Use these dotfiles' }).waitFor({ timeout: 10_000 });
  assert.equal(await h.api('GET', '/api/v1/dotfiles'), null);
  assert.deepEqual(problems.filter((p) => !/status of 400/.test(p)), []);
});
