// The new-workspace form: template, name, limits, environment and ports;
// where it starts from (an archive or a git repository), and the clone's
// progress live until it is done.
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api/http';
import { createWorkspace, listTemplates, rebuildWorkspace } from '../api/workspaces';
import { getDotfiles } from '../api/auth';
import { followSetup, PHASES, SetupLog } from './setup-log';
import { listDir, unpack } from '../api/files';
import type { CreateWorkspaceRequest, Template, Workspace } from '../api/types';
import { Modal } from './modal';
import { navigate } from '../router';

export function CreateDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (w: Workspace) => void }) {
  const [templates, setTemplates] = useState<Template[]>([]);
  const [template, setTemplate] = useState('base');
  const [name, setName] = useState('');
  const [cpus, setCpus] = useState('');
  const [memory, setMemory] = useState('');
  const [env, setEnv] = useState('');
  const [ports, setPorts] = useState('');
  const [archive, setArchive] = useState<File | null>(null);
  const [gitUrl, setGitUrl] = useState('');
  const [gitRef, setGitRef] = useState('');
  // A shallow clone's number of commits ('' = the whole history).
  const [gitDepth, setGitDepth] = useState('');
  const [gitSubmodules, setGitSubmodules] = useState(false);
  const [log, setLog] = useState<string[]>([]);
  const [failed, setFailed] = useState<Workspace | null>(null);
  // The clone failed for want of an accepted credential: say where to add one.
  const [needsCredential, setNeedsCredential] = useState(false);
  const [step, setStep] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  // My dotfiles are installed into every new workspace: a setup to follow.
  const [hasDotfiles, setHasDotfiles] = useState(false);

  useEffect(() => {
    listTemplates().then(setTemplates).catch((e) => setError(String(e.message || e)));
    getDotfiles()
      .then((d) => setHasDotfiles(d !== null))
      .catch(() => {});
  }, []);
  const t = templates.find((x) => x.name === template);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError('');
    const envMap: Record<string, string> = {};
    for (const line of env.split('\n').map((l) => l.trim()).filter(Boolean)) {
      const i = line.indexOf('=');
      if (i <= 0) return setError(`Environment lines are KEY=VALUE: "${line}"`);
      envMap[line.slice(0, i)] = line.slice(i + 1);
    }
    const portList = ports
      .split(/[\s,]+/)
      .filter(Boolean)
      .map(Number);
    if (portList.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) return setError('Ports are numbers from 1 to 65535.');
    const body: CreateWorkspaceRequest = { name, template, env: envMap };
    if (cpus) body.cpus = Number(cpus);
    if (memory) body.memory_mb = Number(memory);
    if (portList.length) body.ports = portList;
    if (gitUrl.trim()) {
      if (archive) return setError('Start from an archive or from a git repository, not both.');
      const depth = gitDepth.trim() ? Number(gitDepth) : undefined;
      if (depth !== undefined && (!Number.isInteger(depth) || depth < 1)) return setError('A shallow clone keeps a whole number of commits, 1 or more.');
      body.git = { url: gitUrl.trim(), ref: gitRef.trim() || undefined, depth, submodules: gitSubmodules || undefined };
    }
    setBusy(true);
    setLog([]);
    let created: Workspace | null = null;
    try {
      setStep('Creating…');
      created = await createWorkspace(body);
      if (archive) {
        setStep(`Unpacking ${archive.name}…`);
        await unpack(created.id, '', archive);
      }
      if (body.git || hasDotfiles) {
        setStep(body.git ? 'Cloning…' : PHASES.dotfiles);
        const problem = await followClone(created.id);
        if (problem) {
          setNeedsCredential(/git credential for/.test(problem));
          setError(`The workspace was created, but its setup failed: ${problem}`);
          setFailed(created);
          setBusy(false);
          return;
        }
      }
      // An archive with a devcontainer.json shapes the workspace as a
      // repository's does (a rebuild reads it from /workspace).
      if (archive && (await hasDevcontainer(created.id))) {
        setStep(PHASES.devcontainer);
        await rebuildWorkspace(created.id);
        const problem = await followClone(created.id);
        if (problem) {
          setError(`The workspace was created, but its devcontainer.json was not applied: ${problem}`);
          setFailed(created);
          setBusy(false);
          return;
        }
      }
      onCreated(created);
    } catch (err) {
      const m = err instanceof ApiError ? err.message : String(err);
      setError(created ? `The workspace was created, but ${archive ? 'its archive was not unpacked' : 'its setup could not be followed'}: ${m}` : m);
      if (created) setFailed(created);
      setBusy(false);
    }
  };

  /// Whether the unpacked archive brought a devcontainer configuration
  /// (where the server looks for one: `.devcontainer.json` or the
  /// `.devcontainer` folder).
  const hasDevcontainer = async (id: string) => {
    const top = await listDir(id, '/workspace').catch(() => []);
    return top.some((e) => e.name === '.devcontainer.json' || (e.name === '.devcontainer' && e.kind === 'dir'));
  };

  /// Shows the setup's output and step as they come; the failure's
  /// message, or ''.
  const followClone = (id: string) =>
    followSetup(id, (lines, phase) => {
      setLog(lines);
      setStep(PHASES[phase] || 'Setting up…');
    });

  return (
    <Modal title="New workspace" onClose={busy ? () => {} : onClose}>
      <form class="form" onSubmit={submit}>
        <label>
          Template
          <select name="template" value={template} onChange={(e) => setTemplate(e.currentTarget.value)}>
            {templates.map((x) => (
              <option value={x.name}>
                {x.name} — {x.description}
              </option>
            ))}
          </select>
        </label>
        <label>
          Name
          <input name="name" required pattern="[a-z0-9]([a-z0-9\-]*[a-z0-9])?" placeholder="my-project" value={name} autoFocus onInput={(e) => setName(e.currentTarget.value)} />
          <span class="muted small">Lowercase letters, digits and dashes.</span>
        </label>
        <div class="row">
          <label>
            CPUs
            <input name="cpus" type="number" step="0.1" min="0.1" placeholder={String(t?.cpus ?? 1)} value={cpus} onInput={(e) => setCpus(e.currentTarget.value)} />
          </label>
          <label>
            Memory (MiB)
            <input name="memory" type="number" step="64" min="64" placeholder={String(t?.memory_mb ?? 1024)} value={memory} onInput={(e) => setMemory(e.currentTarget.value)} />
          </label>
        </div>
        <label>
          Environment
          <textarea name="env" rows={3} placeholder="KEY=value, one per line" value={env} onInput={(e) => setEnv(e.currentTarget.value)} />
        </label>
        <label>
          Start from an archive <span class="muted small">(optional: .tar, .tar.gz or .zip, unpacked into /workspace)</span>
          <input name="archive" type="file" accept=".tar,.tar.gz,.tgz,.zip,application/zip,application/gzip,application/x-tar" onChange={(e) => setArchive(e.currentTarget.files?.[0] ?? null)} />
        </label>
        <label>
          Start from a git repository <span class="muted small">(optional: cloned into /workspace as you)</span>
          <input name="git-url" placeholder="https://github.com/org/repo.git" value={gitUrl} onInput={(e) => setGitUrl(e.currentTarget.value)} />
        </label>
        {gitUrl.trim() && (
          <label>
            Branch, tag or commit
            <input name="git-ref" placeholder="the default branch" value={gitRef} onInput={(e) => setGitRef(e.currentTarget.value)} />
          </label>
        )}
        {gitUrl.trim() && (
          <div class="row">
            <label>
              Shallow: the last <span class="muted small">(commits; empty for the whole history)</span>
              <input name="git-depth" type="number" min="1" step="1" placeholder="all" value={gitDepth} onInput={(e) => setGitDepth(e.currentTarget.value)} />
            </label>
            <label class="check">
              <input name="git-submodules" type="checkbox" checked={gitSubmodules} onChange={(e) => setGitSubmodules(e.currentTarget.checked)} /> With its submodules
            </label>
          </div>
        )}
        <label>
          Ports
          <input name="ports" placeholder={t?.ports.join(', ') || 'e.g. 8000, 3000'} value={ports} onInput={(e) => setPorts(e.currentTarget.value)} />
        </label>
        {busy && log.length > 0 && (
          <p class="small" data-testid="setup-step">
            <span class="spinner" /> {step}
          </p>
        )}
        <SetupLog lines={log} label="Setup progress" />
        {error && (
          <div class="error" role="alert">
            {error}
          </div>
        )}
        {needsCredential && (
          <p class="small">
            <a href="/account" onClick={(e) => (e.preventDefault(), navigate('/account'))}>
              Add a git credential on your account page
            </a>
            , then create the workspace again.
          </p>
        )}
        <div class="row end">
          <button type="button" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          {failed && (
            <button type="button" onClick={() => onCreated(failed)}>
              Open it anyway
            </button>
          )}
          <button class="primary" type="submit" disabled={busy || !name}>
            {busy ? (
              <>
                <span class="spinner" /> {step || 'Creating…'}
              </>
            ) : (
              'Create'
            )}
          </button>
        </div>
      </form>
    </Modal>
  );
}
