// The account and admin pages in the browser (#12), against the real
// server: AI services (add, test, activate, then chat in the IDE), users
// (a member sees no admin pages and is refused by the API; a forced password
// change; disabling ends sessions), my account (tokens, password, my
// models), the policy editor and its "try a command line" with an agent run
// that then waits for approval, the audit log, usage charts and the system
// page. Takes docs/images/{admin-ai,admin-users,account,policy,audit,usage,system}.png.
//
// Needs AICOCKPIT_BIN and an engine (DOCKER_HOST); the chat part needs the
// local model server (AICOCKPIT_TEST_LLM_URL) and is skipped, saying so,
// without it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startHarness, images, USER, PASSWORD } from './harness.mjs';
import { startScriptedModel } from './scripted-model.mjs';

const IMAGE = process.env.AICOCKPIT_TEST_IMAGE || 'localhost/aicockpit/base:latest';
const MEMBER = { username: 'mia', password: 'mia-password-1' };
const NEWBIE = { username: 'noah', password: 'noah-first-pass-1', next: 'noah-own-pass-2' };
const ADMIN_LINKS = ['AI services', 'Users', 'Policy', 'System'];

let h;
before(async () => {
  // "Detect local servers" also probes the test's model server.
  if (process.env.AICOCKPIT_TEST_LLM_URL) process.env.AICOCKPIT_AI__DETECT_URLS = JSON.stringify([process.env.AICOCKPIT_TEST_LLM_URL]);
  h = await startHarness();
});
after(async () => {
  await h?.stop();
});

/// Page errors other than Monaco's own "Canceled" (a superseded request).
const real = (problems) => problems.filter((p) => p !== 'page error: Canceled' && !/Failed to load resource: the server responded with a status of 4(00|01|03|09)/.test(p));

/// A screenshot of the whole page from its top (the header is sticky).
const shot = async (page, name, fullPage = true) => {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(images, name), fullPage });
};

const nav = (page) => page.getByRole('navigation', { name: 'Main' });

test('an admin adds the local model server, tests and activates it, then chats in the IDE', { timeout: 600_000 }, async (t) => {
  const { context, page, problems } = await h.pageAs();
  await page.goto(h.base + '/admin/ai');
  await page.getByRole('heading', { name: 'AI services' }).waitFor();
  // Nothing configured yet: the page and the dashboard say so.
  await page.getByTestId('no-services').waitFor();
  await page.goto(h.base + '/');
  await page.getByTestId('no-ai-service').getByRole('link', { name: /Add one/ }).click();
  await page.waitForURL(/\/admin\/ai$/);
  for (const l of ['Workspaces', 'Usage', 'Audit', 'My account', ...ADMIN_LINKS]) await nav(page).getByRole('link', { name: l, exact: true }).waitFor();

  const llm = process.env.AICOCKPIT_TEST_LLM_URL;
  if (!llm) {
    t.skip('AICOCKPIT_TEST_LLM_URL is not set: no local model server to add, test and chat with');
    await context.close();
    return;
  }
  // A failed test says exactly what failed: a port nobody listens on.
  await page.getByRole('button', { name: 'Add a service' }).click();
  const form = page.getByTestId('service-form');
  await form.getByLabel('Name', { exact: true }).fill('nowhere');
  await form.getByLabel('Kind').selectOption('custom');
  await form.getByLabel('Base URL').fill('http://127.0.0.1:9/v1');
  await form.getByRole('button', { name: 'Add service' }).click();
  const nowhere = page.locator('tr[data-service="nowhere"]');
  await nowhere.getByRole('button', { name: 'Test' }).click();
  const failed = page.getByTestId('probe').filter({ hasText: 'nowhere failed' });
  await failed.waitFor({ timeout: 30_000 });
  assert.match(await failed.textContent(), /refused|connect/);

  // The real one, through the form.
  await page.getByRole('button', { name: 'Add a service' }).click();
  await form.getByLabel('Name', { exact: true }).fill('local');
  await form.getByLabel('Kind').selectOption('custom');
  await form.getByLabel('Base URL').fill(llm);
  await form.getByLabel('Default model').fill('smollm2');
  // The fallback is chosen by name among the others.
  await form.getByLabel('Fallback service').selectOption('nowhere');
  await form.getByRole('button', { name: 'Add service' }).click();
  const row = page.locator('tr[data-service="local"]');
  await row.waitFor();
  assert.match(await row.textContent(), /not set/); // no API key
  assert.match(await row.textContent(), /falls back to nowhere/);
  await row.getByRole('button', { name: 'Test' }).click();
  const probe = page.getByTestId('probe').filter({ hasText: 'local answered' });
  await probe.waitFor({ timeout: 60_000 });
  assert.match(await probe.getByTestId('latency').textContent(), /^\d+ ms$/);
  const models = await probe.locator('.models li').allTextContents();
  assert.ok(models.length > 0, 'the test lists the models');
  // The last test is kept with the service.
  await row.locator('.badge.good', { hasText: 'ok' }).waitFor();
  await row.getByRole('button', { name: 'Activate' }).click();
  await row.locator('.badge', { hasText: 'active' }).waitFor();
  const listed = await h.api('GET', '/api/v1/ai/services');
  assert.equal(listed.find((s) => s.name === 'local').active, true);
  assert.ok(listed.find((s) => s.name === 'local').last_test?.ok, 'last_test is kept');
  // An alias routes a model name to the service; removed again.
  const aliases = page.getByTestId('aliases');
  await aliases.getByLabel('Model name').fill('fast');
  await aliases.locator('select[name=alias_service]').selectOption('local');
  await aliases.getByLabel('Target model (optional)').fill('smollm2');
  await aliases.getByRole('button', { name: 'Add alias' }).click();
  await aliases.locator('tr', { hasText: 'fast' }).waitFor();
  assert.deepEqual((await h.api('GET', '/api/v1/ai/aliases')).map((a) => [a.model, a.target_model]), [['fast', 'smollm2']]);
  await aliases.locator('tr', { hasText: 'fast' }).getByRole('button', { name: 'Remove' }).click();
  await aliases.locator('tr', { hasText: 'fast' }).waitFor({ state: 'detached' });
  // The admins' default model for a feature.
  const defaults = page.getByTestId('feature-models-defaults');
  await defaults.locator('input[name="completion"]').fill('smollm2');
  await defaults.getByRole('button', { name: 'Save defaults' }).click();
  await defaults.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
  const features = await h.api('GET', '/api/v1/ai/features');
  assert.equal(features.features.find((f) => f.feature === 'completion').default_model, 'smollm2');
  await defaults.locator('input[name="completion"]').fill('');
  await defaults.getByRole('button', { name: 'Save defaults' }).click();
  await page.waitForFunction(() => !document.querySelector('[data-testid="feature-models-defaults"] button[type=submit]')?.disabled);
  // Detection finds the same server; one click adds it as another service.
  await page.getByRole('button', { name: 'Detect local servers' }).click();
  const found = page.locator('ul.detected li', { hasText: llm });
  await found.waitFor({ timeout: 30_000 });
  assert.match(await found.textContent(), /\d+ ms, 1 model/);
  await found.getByRole('button', { name: 'Add' }).click();
  await found.getByText(/Added as local-\d+/).waitFor();
  await page.locator('tr[data-service^="local-"]').waitFor();
  await shot(page, 'admin-ai.png');
  // The dashboard no longer says that nothing is configured.
  await page.goto(h.base + '/');
  await page.getByRole('heading', { name: 'Workspaces' }).waitFor();
  await page.waitForTimeout(500);
  assert.equal(await page.getByTestId('no-ai-service').count(), 0);

  const w = await h.api('POST', '/api/v1/workspaces', { name: 'adminchat', image: IMAGE });
  assert.equal(w.state, 'running', JSON.stringify(w));
  await page.goto(`${h.base}/w/${w.id}`);
  const input = page.locator('.chat-input');
  await input.waitFor();
  await input.fill('Say hello in three words.');
  await page.keyboard.press('Enter');
  const bubble = page.locator('.bubble.assistant').last();
  await page.getByRole('button', { name: 'Send' }).waitFor({ timeout: 240_000 });
  const answer = (await bubble.textContent()).trim();
  assert.ok(answer.length > 0 && answer !== '…' && answer !== '(stopped)', `answer: ${JSON.stringify(answer)}`);
  assert.equal(await page.locator('.chat .error').count(), 0);
  assert.deepEqual(real(problems), []);
  await context.close();
});

test('users: a member sees no admin pages and the API refuses them', { timeout: 120_000 }, async () => {
  const { context, page, problems } = await h.pageAs();
  await page.goto(h.base + '/admin/users');
  const add = page.getByTestId('add-user');
  await add.getByLabel('Username', { exact: true }).fill(MEMBER.username);
  await add.getByLabel('Password', { exact: true }).fill(MEMBER.password);
  await add.locator('select[name=role]').selectOption('member');
  const ask = add.getByLabel('Ask for a new password at first login');
  assert.equal(await ask.isChecked(), true, 'checked by default');
  await ask.uncheck();
  await add.getByRole('button', { name: 'Add user' }).click();
  await page.locator(`tr[data-user="${MEMBER.username}"]`).waitFor();
  // A taken name is said next to the username.
  await add.getByLabel('Username', { exact: true }).fill(MEMBER.username);
  await add.getByLabel('Password', { exact: true }).fill('whatever-password-9');
  await add.getByRole('button', { name: 'Add user' }).click();
  await add.locator('.field.invalid').filter({ has: page.getByLabel('Username') }).locator('.field-error').waitFor();
  await context.close();

  // The member signs in through the login page.
  const m = await h.page();
  await m.page.goto(h.base + '/');
  await m.page.getByLabel('Username').fill(MEMBER.username);
  await m.page.getByLabel('Password').fill(MEMBER.password);
  await m.page.getByRole('button', { name: 'Sign in' }).click();
  await m.page.getByRole('heading', { name: 'Workspaces' }).waitFor();
  for (const l of ['Workspaces', 'Usage', 'Audit', 'My account']) await nav(m.page).getByRole('link', { name: l, exact: true }).waitFor();
  for (const l of ADMIN_LINKS) assert.equal(await nav(m.page).getByRole('link', { name: l, exact: true }).count(), 0, `${l} is not offered to members`);
  for (const path of ['/admin/ai', '/admin/users', '/admin/system', '/policy']) {
    await m.page.goto(h.base + path);
    await m.page.getByTestId('admins-only').waitFor();
    assert.match(await m.page.getByTestId('admins-only').textContent(), /Admins only/);
  }
  const tok = await m.page.evaluate(() => localStorage.getItem('aicockpit.token'));
  for (const [method, path, body] of [
    ['GET', '/api/v1/users'],
    ['POST', '/api/v1/ai/services', { name: 'sneaky', kind: 'custom', base_url: 'http://127.0.0.1:9/v1' }],
    ['GET', '/api/v1/system'],
  ]) {
    const r = await h.call(tok, method, path, body);
    assert.equal(r.status, 403, `${method} ${path} as a member: ${JSON.stringify(r.body)}`);
  }
  assert.deepEqual(real(m.problems), []);
  assert.deepEqual(real(problems), []);
  await m.context.close();
});

test('users: a new password at first login, the last admin kept, disabling ends sessions', { timeout: 120_000 }, async () => {
  const { context, page, problems } = await h.pageAs();
  await page.goto(h.base + '/admin/users');
  const add = page.getByTestId('add-user');
  await add.getByLabel('Username', { exact: true }).fill(NEWBIE.username);
  await add.getByLabel('Password', { exact: true }).fill(NEWBIE.password);
  await add.getByRole('button', { name: 'Add user' }).click();
  const row = page.locator(`tr[data-user="${NEWBIE.username}"]`);
  await row.locator('.badge', { hasText: 'must change password' }).waitFor();

  // An admin cannot demote themselves (nor leave no admin): said on the row,
  // and the select shows the role as it stays.
  await page.getByLabel(`Role of ${USER}`).selectOption('member');
  const err = page.getByTestId('row-error');
  await err.waitFor();
  assert.match(await err.textContent(), /Refused: .*(yourself|no enabled admin)/);
  assert.equal((await h.api('GET', '/api/v1/auth/me')).role, 'admin');
  await page.waitForFunction((u) => document.querySelector(`select[aria-label="Role of ${u}"]`)?.value === 'admin', USER);

  // First login: only the "choose a new password" screen; the API refuses
  // everything else meanwhile.
  const n = await h.page();
  await n.page.goto(h.base + '/');
  await n.page.getByLabel('Username').fill(NEWBIE.username);
  await n.page.getByLabel('Password').fill(NEWBIE.password);
  await n.page.getByRole('button', { name: 'Sign in' }).click();
  await n.page.getByTestId('force-password').waitFor();
  assert.equal(await n.page.getByRole('navigation', { name: 'Main' }).count(), 0);
  const tok = await n.page.evaluate(() => localStorage.getItem('aicockpit.token'));
  const refused = await h.call(tok, 'GET', '/api/v1/workspaces');
  assert.equal(refused.status, 403);
  assert.equal(refused.body?.error?.code, 'password_change_required');
  await shot(n.page, 'first-login.png', false);
  // Repeating it wrong is said next to the repeat field, before asking the server.
  await n.page.getByLabel('Current password').fill(NEWBIE.password);
  await n.page.getByLabel('New password', { exact: true }).fill(NEWBIE.next);
  await n.page.getByLabel('Repeat the new password').fill(NEWBIE.next + 'x');
  await n.page.getByRole('button', { name: 'Set new password' }).click();
  await n.page.locator('.field-error', { hasText: 'differ' }).waitFor();
  await n.page.getByLabel('Repeat the new password').fill(NEWBIE.next);
  await n.page.getByRole('button', { name: 'Set new password' }).click();
  await n.page.getByRole('heading', { name: 'Workspaces' }).waitFor();
  const after = await h.call(tok, 'GET', '/api/v1/workspaces');
  assert.equal(after.status, 200, 'the same session goes on after the change');
  await page.reload();
  await row.waitFor();
  assert.equal(await row.locator('.badge', { hasText: 'must change password' }).count(), 0);

  // Disabling ends the user's sessions: their next call is 401.
  await row.getByRole('button', { name: 'Disable' }).click();
  await row.locator('.badge', { hasText: 'disabled' }).waitFor();
  assert.equal((await h.call(tok, 'GET', '/api/v1/auth/me')).status, 401);
  await shot(page, 'admin-users.png');
  // Their open page goes back to the login.
  await n.page.reload();
  await n.page.getByRole('button', { name: 'Sign in' }).waitFor();
  await row.getByRole('button', { name: 'Enable' }).click();
  await row.locator('.badge', { hasText: 'active' }).waitFor();
  // A reset password must be replaced at the next login again.
  await row.getByRole('button', { name: 'Reset password' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Temporary password').fill('short');
  await dialog.getByRole('button', { name: 'Set password' }).click();
  await dialog.locator('.field-error').waitFor();
  await dialog.getByLabel('Temporary password').fill('noah-reset-pass-3');
  await dialog.getByRole('button', { name: 'Set password' }).click();
  await dialog.waitFor({ state: 'detached' });
  await row.locator('.badge', { hasText: 'must change password' }).waitFor();
  const again = await h.loginAs(NEWBIE.username, 'noah-reset-pass-3');
  assert.equal((await h.call(again, 'GET', '/api/v1/workspaces')).body?.error?.code, 'password_change_required');
  assert.deepEqual(real(problems), []);
  await n.context.close();
  await context.close();
});

test('my account: a token shown once, a new password ends the other sessions', { timeout: 120_000 }, async () => {
  const other = await h.loginAs(MEMBER.username, MEMBER.password);
  const mine = await h.loginAs(MEMBER.username, MEMBER.password);
  const { context, page, problems } = await h.pageAs(mine);
  await page.goto(h.base + '/account');
  await page.getByRole('heading', { name: 'My account' }).waitFor();
  await page.getByLabel('Name', { exact: true }).fill('laptop cli');
  await page.getByLabel('Expires after (days)').fill('0');
  await page.getByRole('button', { name: 'Create token' }).click();
  await page.locator('.field-error', { hasText: 'at least 1' }).waitFor();
  await page.getByLabel('Expires after (days)').fill('30');
  await page.getByRole('button', { name: 'Create token' }).click();
  const shown = page.getByTestId('new-token');
  await shown.waitFor();
  assert.match(await shown.textContent(), /shown only once/);
  const secret = await page.getByLabel('The new token').inputValue();
  assert.equal((await h.call(secret, 'GET', '/api/v1/auth/me')).body.username, MEMBER.username);
  await page.locator('tr[data-token="laptop cli"]').waitFor();
  // Revoked after a confirmation: the token stops working.
  await page.getByRole('button', { name: 'Done' }).click();
  await page.locator('tr[data-token="laptop cli"]').getByRole('button', { name: 'Revoke' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
  await page.locator('tr[data-token="laptop cli"]').waitFor({ state: 'detached' });
  assert.equal((await h.call(secret, 'GET', '/api/v1/auth/me')).status, 401);
  await page.getByLabel('Name', { exact: true }).fill('laptop cli');
  await page.getByRole('button', { name: 'Create token' }).click();
  await page.getByTestId('new-token').waitFor();
  await page.getByTestId('feature-models-mine').waitFor();
  await shot(page, 'account.png');

  // A wrong current password is said next to that field.
  await page.getByLabel('Current password').fill('not-my-password');
  await page.getByLabel('New password', { exact: true }).fill('mia-password-2');
  await page.getByLabel('Repeat the new password').fill('mia-password-2');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.locator('.field.invalid').filter({ has: page.getByLabel('Current password') }).locator('.field-error').waitFor();
  await page.getByLabel('Current password').fill(MEMBER.password);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByTestId('password-changed').waitFor();
  assert.match(await page.getByTestId('password-changed').textContent(), /other sessions were signed out/);
  assert.equal((await h.call(other, 'GET', '/api/v1/auth/me')).status, 401, 'the other session ended');
  assert.equal((await h.call(mine, 'GET', '/api/v1/auth/me')).status, 200, 'this one goes on');
  MEMBER.password = 'mia-password-2';
  assert.deepEqual(real(problems), []);
  await context.close();
});

test('policy editor: the server judges a line; an agent run then waits for approval', { timeout: 300_000 }, async () => {
  const model = await startScriptedModel({ command: 'echo from-the-agent' });
  try {
    const svc = await h.call(h.token, 'POST', '/api/v1/ai/services', { name: 'scripted', kind: 'custom', base_url: model.url, default_model: 'scripted' });
    assert.equal(svc.status, 201, JSON.stringify(svc.body));
    await h.api('POST', '/api/v1/ai/services/scripted/activate');
    const w = await h.api('POST', '/api/v1/workspaces', { name: 'policed', image: IMAGE });
    assert.equal(w.state, 'running', JSON.stringify(w));

    const { context, page, problems } = await h.pageAs();
    // Reached from the dashboard's workspace row.
    await page.goto(h.base + '/');
    await page.locator('tr[data-workspace="policed"]').getByRole('button', { name: 'Policy' }).click();
    await page.waitForURL(/\/policy\/[0-9a-f]+$/);
    await page.getByRole('heading', { name: 'Agent policy of policed' }).waitFor();
    // Commands run without asking, except `echo`.
    await page.getByLabel('run_command', { exact: true }).selectOption('allow');
    await page.getByRole('button', { name: 'Add a command rule' }).click();
    const n = (await page.locator('input[aria-label$=" pattern"]').count());
    await page.getByLabel(`Command rule ${n} pattern`, { exact: true }).fill('echo');
    await page.getByLabel(`Command rule ${n} decision`, { exact: true }).selectOption('ask');
    // Tried before saving: the policy as edited is judged.
    const box = page.getByTestId('try-command');
    await box.getByLabel('Command line').fill('echo hello');
    await box.getByRole('button', { name: 'Check' }).click();
    const verdict = page.getByTestId('verdict');
    await verdict.locator('[data-decision="ask"]').waitFor();
    assert.ok((await verdict.textContent()).length > 'askecho hello'.length, 'a reason is given');
    await box.getByLabel('Command line').fill('pwd');
    await box.getByRole('button', { name: 'Check' }).click();
    await verdict.locator('[data-decision="allow"]').waitFor();
    await box.getByLabel('Command line').fill('sudo rm -rf /');
    await box.getByRole('button', { name: 'Check' }).click();
    await verdict.locator('[data-decision="deny"]').waitFor();
    await box.getByLabel('Command line').fill('echo hello');
    await box.getByRole('button', { name: 'Check' }).click();
    await verdict.locator('[data-decision="ask"]').waitFor();
    await shot(page, 'policy.png');
    // An empty rule is said on its row, not sent.
    await page.getByRole('button', { name: 'Add a command rule' }).click();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('.rule .field-error').waitFor();
    await page.getByLabel(`Remove command rule ${n + 1}`).click();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    const saved = await h.api('GET', `/api/v1/workspaces/${w.id}/policy`);
    assert.equal(saved.tools.run_command, 'allow');
    assert.deepEqual(saved.commands.find((c) => c.pattern === 'echo'), { pattern: 'echo', decision: 'ask' });

    // The agent's model is mine to choose (My account → My models): the run
    // asks for it.
    await page.goto(h.base + '/account');
    const mine = page.getByTestId('feature-models-mine');
    await mine.locator('input[name="agent"]').fill('scripted-agent');
    await mine.locator('input[name="chat"]').fill('scripted-chat');
    await mine.getByRole('button', { name: 'Save my models' }).click();
    await mine.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();

    // The agent wants to run `echo …`: the run waits for an approval.
    await page.goto(`${h.base}/w/${w.id}`);
    await page.locator('.ai .tab', { hasText: 'Agent' }).click();
    await page.getByPlaceholder('Give the agent a task…').fill('say something');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const card = page.locator('.step.ask');
    await card.waitFor({ timeout: 60_000 });
    assert.match(await card.textContent(), /run_command[\s\S]*echo from-the-agent/);
    const asked = model.requests.filter((r) => Array.isArray(r.body.tools));
    assert.ok(asked.length > 0 && asked.every((r) => r.body.model === 'scripted-agent'), JSON.stringify(asked.map((r) => r.body.model)));
    await card.getByRole('button', { name: 'Reject' }).click();
    await page.getByText(/Run ended/).waitFor({ timeout: 30_000 });
    // So does the chat, with the chat's model.
    await page.locator('.ai .tab', { hasText: 'Chat' }).click();
    await page.locator('.chat-input').fill('hello');
    await page.keyboard.press('Enter');
    await page.locator('.bubble.assistant', { hasText: 'Add two numbers' }).waitFor({ timeout: 30_000 });
    const chats = model.requests.filter((r) => r.url.endsWith('/chat/completions') && !Array.isArray(r.body.tools));
    assert.deepEqual(chats.map((r) => r.body.model), ['scripted-chat']);
    assert.deepEqual(real(problems), []);
    await context.close();
  } finally {
    await model.stop();
  }
});

test('audit, usage and system pages', { timeout: 120_000 }, async () => {
  const { context, page, problems } = await h.pageAs();
  await page.goto(h.base + '/audit');
  const rows = page.locator('tr.audit-row');
  await rows.first().waitFor();
  assert.ok((await rows.count()) > 3);
  await page.getByTestId('audit-verified').waitFor();
  // Newest first.
  const seqs = (await rows.locator('td:first-child').allTextContents()).map((s) => Number(s.replace(/\D/g, '')));
  assert.deepEqual(seqs, [...seqs].sort((a, b) => b - a));
  // A filter by action prefix.
  await page.getByLabel('Action starts with').fill('user.');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForFunction(() => {
    const r = [...document.querySelectorAll('tr.audit-row')];
    return r.length > 0 && r.every((x) => x.getAttribute('data-action').startsWith('user.'));
  });
  // A row's detail expands.
  await rows.first().getByRole('button', { name: /Details of entry/ }).click();
  await page.locator('pre.detail').first().waitFor();
  assert.match(await page.locator('pre.detail').first().textContent(), /"hash"/);
  await shot(page, 'audit.png', false);
  // Export downloads the chain.
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export' }).click();
  assert.match((await download).suggestedFilename(), /^aicockpit-audit-.*\.json$/);

  // A member reads the log of their own workspaces only.
  const memberTok = await h.loginAs(MEMBER.username, MEMBER.password);
  const m = await h.pageAs(memberTok);
  await h.call(memberTok, 'POST', '/api/v1/workspaces', { name: 'miaws', image: IMAGE });
  await m.page.goto(h.base + '/audit');
  await m.page.locator('tr.audit-row').first().waitFor({ timeout: 30_000 });
  assert.equal(await m.page.getByTestId('audit-verified').count(), 0);
  assert.equal(await m.page.getByRole('button', { name: 'Export' }).count(), 0);
  await m.context.close();

  await page.goto(h.base + '/usage');
  await page.getByLabel('Everyone').check();
  await page.locator('[data-testid="chart-tokens"] .uplot canvas').waitFor();
  await page.locator('[data-testid="chart-requests"] .uplot canvas').waitFor();
  await page.getByTestId('usage-totals').waitFor();
  assert.ok((await page.locator('[data-testid="usage-totals"] tbody tr').count()) >= 2, 'a row and the total');
  // The agent run asked for the model chosen under My account.
  await page.locator('[data-testid="usage-totals"] td', { hasText: 'scripted-agent' }).first().waitFor();
  await page.getByLabel('Group by').selectOption('user');
  await page.getByRole('radio', { name: '7 days' }).click();
  await page.locator('[data-testid="chart-tokens"] .uplot canvas').waitFor();
  await page.getByRole('radio', { name: '24 hours' }).click();
  await page.locator('[data-testid="chart-tokens"] .uplot canvas').waitFor();
  await shot(page, 'usage.png');
  // In the dark the chart is drawn again in the dark colours.
  const dark = await h.pageAs(h.token, { colorScheme: 'dark' });
  await dark.page.goto(h.base + '/usage');
  await dark.page.locator('[data-testid="chart-tokens"] .uplot canvas').waitFor();
  await dark.context.close();

  await page.goto(h.base + '/admin/system');
  await page.getByTestId('version').waitFor();
  assert.match(await page.getByTestId('version').textContent(), /\d+\.\d+/);
  assert.match(await page.getByTestId('engine').textContent(), /\S/);
  await shot(page, 'system.png');
  assert.deepEqual(real(problems), []);
  await context.close();
});
