// My git credentials (the account page): a token per git server, sealed on
// the server and given to git inside my workspaces only when git asks —
// never written into a workspace. The token is typed once and never shown.
import { useEffect, useState } from 'preact/hooks';
import { createGitCredential, deleteGitCredential, listGitCredentials } from '../api/auth';
import { errorMessage } from '../api/http';
import type { GitCredential } from '../api/types';
import { Confirm } from './confirm';
import { Field, FieldErrors, fieldErrors, FormError } from './field';
import { formatTime } from '../format';

export function GitCredentials() {
  const [list, setList] = useState<GitCredential[] | null>(null);
  const [error, setError] = useState('');
  const [url, setUrl] = useState('');
  const [username, setUsername] = useState('');
  const [token, setToken] = useState('');
  const [replace, setReplace] = useState(false);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const [deleting, setDeleting] = useState<GitCredential | null>(null);

  const load = () =>
    listGitCredentials()
      .then((l) => (setList(l), setError('')))
      .catch((e) => setError(errorMessage(e)));
  useEffect(() => {
    load();
  }, []);

  const add = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    try {
      await createGitCredential({ url: url.trim(), username: username.trim() || null, token, replace });
      setUrl('');
      setUsername('');
      setToken('');
      setReplace(false);
      load();
    } catch (err) {
      setErrors(fieldErrors(err, (code, msg) => (/token/.test(msg) ? 'token' : /username/.test(msg) ? 'username' : /url|exists|origin/.test(code + msg) ? 'url' : undefined)));
    } finally {
      setBusy(false);
    }
  };
  const remove = async (c: GitCredential) => {
    setDeleting(null);
    try {
      await deleteGitCredential(c.id);
      load();
    } catch (e) {
      setError(errorMessage(e));
    }
  };

  return (
    <section class="card section" data-testid="git-credentials">
      <h3>Git credentials</h3>
      <p class="muted small">
        A token per git server. git in your workspaces asks for it when it needs it (clone, fetch, push); it is never written into a workspace, and each use is on the audit log.
        Anything running in your workspace can ask for it, so give tokens only the access you need.
      </p>
      <form class="form" onSubmit={add} aria-label="Add a git credential">
        <div class="row top">
          <Field label="Git server" error={errors.url} hint="Only the address, e.g. https://github.com">
            <input name="git_url" placeholder="https://github.com" required value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
          </Field>
          <Field label="User name" error={errors.username} hint="Blank: git">
            <input name="git_username" autoComplete="off" value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
          </Field>
          <Field label="Token or password" error={errors.token}>
            <input name="git_token" type="password" autoComplete="new-password" required value={token} onInput={(e) => setToken(e.currentTarget.value)} />
          </Field>
        </div>
        <FormError errors={errors} />
        <div class="row">
          <label class="small">
            <input type="checkbox" name="git_replace" checked={replace} onChange={(e) => setReplace(e.currentTarget.checked)} /> Replace my credential for this server
          </label>
          <button class="primary" type="submit" disabled={busy || !url.trim() || !token}>
            Add credential
          </button>
        </div>
      </form>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      {list === null ? (
        !error && <p class="muted">Loading…</p>
      ) : list.length === 0 ? (
        <p class="muted">No git credentials: public repositories only.</p>
      ) : (
        <table class="ws-table" data-testid="git-credential-list">
          <thead>
            <tr>
              <th>Git server</th>
              <th>User</th>
              <th>Added</th>
              <th>Last used</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.map((c) => (
              <tr data-origin={c.origin}>
                <td class="ws-name mono">{c.origin}</td>
                <td>{c.username}</td>
                <td class="small">{formatTime(c.created_at)}</td>
                <td class="small">
                  {c.last_used_at ? formatTime(c.last_used_at) : 'never'}
                  {c.rejected_at && (
                    <div class="error small" data-testid="git-credential-rejected">
                      Refused by the git server {formatTime(c.rejected_at)}: replace it.
                    </div>
                  )}
                </td>
                <td class="actions">
                  <button class="danger" onClick={() => setDeleting(c)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {deleting && (
        <Confirm
          title={`Delete the credential for ${deleting.origin}?`}
          body="git in your workspaces can no longer use it for that server."
          confirm="Delete"
          onCancel={() => setDeleting(null)}
          onConfirm={() => remove(deleting)}
        />
      )}
    </section>
  );
}
