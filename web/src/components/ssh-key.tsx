// My SSH key (the account page): a key pair the server makes; I paste its
// public half into my git host, and my workspaces sign with it through
// their SSH agent — the private half never leaves the server.
import { useEffect, useState } from 'preact/hooks';
import { deleteSshKey, generateSshKey, getSshKey } from '../api/auth';
import { errorMessage } from '../api/http';
import type { SshKey } from '../api/types';
import { Confirm } from './confirm';
import { formatTime } from '../format';

export function SshKeySection() {
  const [key, setKey] = useState<SshKey | null | undefined>(undefined);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [confirm, setConfirm] = useState<'replace' | 'delete' | null>(null);
  const [copied, setCopied] = useState(false);

  useEffect(() => {
    getSshKey()
      .then(setKey)
      .catch((e) => setError(errorMessage(e)));
  }, []);

  const generate = async () => {
    setConfirm(null);
    setBusy(true);
    try {
      setKey(await generateSshKey());
      setError('');
    } catch (e) {
      setError(errorMessage(e));
    }
    setBusy(false);
  };
  const remove = async () => {
    setConfirm(null);
    try {
      await deleteSshKey();
      setKey(null);
    } catch (e) {
      setError(errorMessage(e));
    }
  };

  return (
    <section class="card section" data-testid="ssh-key">
      <h3>SSH key</h3>
      <p class="muted small">
        A key pair made by the server for git over SSH. Add its public key to your git host; ssh and git in your workspaces use it through their SSH agent. The private key never leaves the server, each
        signature is on the audit log, and commands the AI runs without your approval cannot use it.
      </p>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      {key === undefined ? (
        !error && <p class="muted">Loading…</p>
      ) : key === null ? (
        <div class="row">
          <button class="primary" onClick={generate} disabled={busy}>
            Make an SSH key
          </button>
        </div>
      ) : (
        <>
          <textarea class="mono small" readOnly rows={3} data-testid="ssh-public-key" aria-label="Public key" value={key.public_key} onFocus={(e) => e.currentTarget.select()} />
          <p class="small muted">
            {key.fingerprint} · made {formatTime(key.created_at)} · {key.last_used_at ? `last used ${formatTime(key.last_used_at)}` : 'never used'}
          </p>
          <div class="row">
            <button onClick={() => navigator.clipboard?.writeText(key.public_key).then(() => setCopied(true), () => {})}>{copied ? 'Copied' : 'Copy public key'}</button>
            <button onClick={() => setConfirm('replace')} disabled={busy}>
              Replace
            </button>
            <button class="danger" onClick={() => setConfirm('delete')}>
              Delete
            </button>
          </div>
        </>
      )}
      {confirm && (
        <Confirm
          title={confirm === 'replace' ? 'Replace your SSH key?' : 'Delete your SSH key?'}
          body="Git hosts that have the current public key will no longer accept your workspaces until you add the new one."
          confirm={confirm === 'replace' ? 'Replace' : 'Delete'}
          onConfirm={confirm === 'replace' ? generate : remove}
          onCancel={() => setConfirm(null)}
        />
      )}
    </section>
  );
}
