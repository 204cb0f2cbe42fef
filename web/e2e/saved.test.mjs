// Snapshots and kept data on the dashboard (#15), against the real server
// and engine: snapshot a workspace, fork the snapshot; delete a workspace
// keeping its data, start a new workspace with that data, purge kept data.
// Takes docs/images/snapshots.png.
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

// The workspace called `name` once it runs: its dashboard row shows up
// while it is still being made.
const running = async (name) => {
  for (let i = 0; i < 600; i++) {
    const w = ((await h.api('GET', '/api/v1/workspaces')) || []).find((x) => x.name === name);
    if (w?.state === 'running') return w;
    if (w && w.state !== 'creating' && w.state !== 'starting') assert.fail(`${name} is ${w.state}: ${JSON.stringify(w)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${name} did not start within a minute`);
};

const cat = async (ws, path) => {
  const r = await h.api('POST', `/api/v1/workspaces/${ws}/exec`, { argv: ['cat', path] });
  return r?.stdout;
};

test('dashboard: snapshot and fork a workspace; reuse and purge kept data', { timeout: 300_000 }, async () => {
  const w = await h.api('POST', '/api/v1/workspaces', { name: 'keepme', template: 'base' });
  assert.equal(w.state, 'running', JSON.stringify(w));
  await h.api('POST', `/api/v1/workspaces/${w.id}/exec`, { argv: ['sh', '-c', 'echo precious > /workspace/p.txt'] });
  const { page, problems } = await h.pageAs();
  await page.goto(h.base + '/');
  const row = (name) => page.locator(`tr[data-workspace="${name}"]`);
  await row('keepme').waitFor();
  const dialog = page.getByRole('dialog');

  // Snapshot, then fork it.
  await row('keepme').getByRole('button', { name: 'Snapshot' }).click();
  await dialog.getByLabel('Snapshot name').fill('keepme-snap');
  await dialog.getByRole('button', { name: 'Take snapshot' }).click();
  const snap = page.locator('tr[data-snapshot="keepme-snap"]');
  // Generous: other test files load the engine meanwhile.
  await snap
    .waitFor({ timeout: 150_000 })
    .catch(async (e) => assert.fail(`${e.message}\n${await page.locator('section.saved').innerText().catch(() => '')}`));
  await snap.getByRole('button', { name: 'Fork' }).click();
  await dialog.getByLabel('New workspace name').fill('forked');
  await dialog.getByRole('button', { name: 'Fork' }).click();
  await row('forked').waitFor({ timeout: 60_000 });
  const forked = await running('forked');
  assert.equal(await cat(forked.id, '/workspace/p.txt'), 'precious\n');

  // Deleted with its data kept; a new workspace starts with that data.
  await row('keepme').getByRole('button', { name: 'Delete' }).click();
  await dialog.getByRole('button', { name: 'Delete' }).click();
  const kept = page.locator('tr[data-kept="keepme"]');
  await kept.waitFor({ timeout: 60_000 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(images, 'snapshots.png'), fullPage: true });
  await kept.getByRole('button', { name: 'New workspace with it' }).click();
  await dialog.getByLabel('New workspace name').fill('again');
  await dialog.getByRole('button', { name: 'Create' }).click();
  await row('again').waitFor({ timeout: 60_000 });
  await kept.waitFor({ state: 'detached' });
  const again = await running('again');
  assert.equal(await cat(again.id, '/workspace/p.txt'), 'precious\n');

  // Kept data purged for good.
  await row('again').getByRole('button', { name: 'Delete' }).click();
  await dialog.getByRole('button', { name: 'Delete' }).click();
  const keptAgain = page.locator('tr[data-kept="again"]');
  await keptAgain.waitFor({ timeout: 60_000 });
  await keptAgain.getByRole('button', { name: 'Purge' }).click();
  await dialog.getByRole('button', { name: 'Purge' }).click();
  await keptAgain.waitFor({ state: 'detached' });
  assert.deepEqual(await h.api('GET', '/api/v1/kept-data'), []);

  // The snapshot cannot go while its fork exists; it can afterwards.
  await snap.getByRole('button', { name: 'Delete' }).click();
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('alert').filter({ hasText: 'forked from this snapshot' }).waitFor();
  await h.api('DELETE', `/api/v1/workspaces/${forked.id}?purge=true`);
  await snap.getByRole('button', { name: 'Delete' }).click();
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await snap.waitFor({ state: 'detached' });
  assert.deepEqual(problems.filter((p) => !/status of 409/.test(p)), []);
});

test('dashboard: a snapshot is exported by the browser itself and imported with upload progress', { timeout: 300_000 }, async () => {
  const w = await h.api('POST', '/api/v1/workspaces', { name: 'travels', template: 'base' });
  await h.api('POST', `/api/v1/workspaces/${w.id}/exec`, { argv: ['sh', '-c', 'echo souvenir > /workspace/s.txt'] });
  const snap = await h.api('POST', `/api/v1/workspaces/${w.id}/snapshots`, { name: 'trip' });
  await h.api('DELETE', `/api/v1/workspaces/${w.id}?purge=true`);
  const { page, problems } = await h.pageAs();
  await page.goto(h.base + '/');
  const row = page.locator('tr[data-snapshot="trip"]');
  await row.waitFor();

  // A link with a single-use ticket: the browser streams it to disk.
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: 120_000 }),
    row.getByRole('button', { name: 'Export' }).click(),
  ]);
  assert.equal(download.suggestedFilename(), 'trip.aicockpit-snapshot.tar');
  const file = await download.path();
  assert.ok(file, 'the download finished');
  assert.match(download.url(), /\/export\?ticket=tkt_/);
  // The ticket was used up by the download.
  const again = await fetch(h.base + new URL(download.url()).pathname + new URL(download.url()).search);
  assert.equal(again.status, 401);

  // Imported back (after the original is gone), with its data.
  await h.api('DELETE', `/api/v1/snapshots/${snap.id}`);
  await row.waitFor({ state: 'detached', timeout: 30_000 }).catch(() => page.reload());
  await page.locator('input[name="snapshot-archive"]').setInputFiles(file);
  await page.getByRole('status').filter({ hasText: /Importing .*(% sent|loading)/ }).first().waitFor({ timeout: 60_000 }).catch(() => {});
  const imported = page.locator('tr[data-snapshot="trip"]');
  await imported.waitFor({ timeout: 180_000 });
  const list = await h.api('GET', '/api/v1/snapshots');
  const back = list.find((s) => s.name === 'trip');
  assert.ok(back, JSON.stringify(list));
  const forked = await h.api('POST', `/api/v1/snapshots/${back.id}/fork`, { name: 'home' });
  assert.equal(await cat(forked.id, '/workspace/s.txt'), 'souvenir\n');
  await h.api('DELETE', `/api/v1/workspaces/${forked.id}?purge=true`);
  await h.api('DELETE', `/api/v1/snapshots/${back.id}`);
  assert.deepEqual(problems.filter((p) => !/status of 401/.test(p)), []);
});
