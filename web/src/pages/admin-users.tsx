// Users (admins): everyone with their role and state; add a user, change a
// role, disable or enable, reset a password. The server keeps at least one
// active admin (409 `last_admin`), which is said next to the user concerned.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, errorMessage } from '../api/http';
import { createUser, listUsers, setPassword, updateUser } from '../api/users';
import type { Account } from '../api/types';
import { PageProps, Shell } from '../components/nav';
import { Field, FieldErrors, fieldErrors, FormError } from '../components/field';
import { Modal } from '../components/modal';
import { formatTime } from '../format';
import { ROLES } from '../roles';

/// A refused change, said plainly: the last enabled admin (409
/// `last_admin`), or oneself (409 `cannot_change_self`).
const lastAdmin = (e: unknown) =>
  e instanceof ApiError && (e.code === 'last_admin' || e.code === 'cannot_change_self') ? `Refused: ${e.message}.` : errorMessage(e);

export function AdminUsers(p: PageProps) {
  const [users, setUsers] = useState<Account[] | null>(null);
  const [error, setError] = useState('');
  const [rowError, setRowError] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState<Record<string, boolean>>({});
  const [resetting, setResetting] = useState<Account | null>(null);
  const [notice, setNotice] = useState('');

  const load = () =>
    listUsers()
      .then((u) => (setUsers(u), setError('')))
      .catch((e) => setError(errorMessage(e)));
  useEffect(() => {
    load();
  }, []);

  const change = async (u: Account, body: { role?: string; disabled?: boolean }) => {
    setBusy((b) => ({ ...b, [u.id]: true }));
    setRowError(({ [u.id]: _, ...rest }) => rest);
    setNotice('');
    try {
      const updated = await updateUser(u.id, body);
      setUsers((list) => list && list.map((x) => (x.id === u.id ? { ...x, ...updated } : x)));
      if (body.disabled) setNotice(`${u.username} is disabled; their sessions and tokens no longer work.`);
    } catch (e) {
      setRowError((r) => ({ ...r, [u.id]: lastAdmin(e) }));
      load();
    } finally {
      setBusy(({ [u.id]: _, ...rest }) => rest);
    }
  };

  return (
    <Shell {...p} title="Users">
      <AddUser
        onAdded={(u) => {
          setNotice(`Added ${u.username}.`);
          load();
        }}
      />
      {notice && (
        <div class="notice" role="status">
          {notice}
        </div>
      )}
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      {!users ? (
        !error && <p class="muted">Loading…</p>
      ) : (
        <table class="ws-table" data-testid="users">
          <thead>
            <tr>
              <th>Username</th>
              <th>Role</th>
              <th>Created</th>
              <th>State</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {users.map((u) => [
              <tr key={u.id} data-user={u.username}>
                <td class="ws-name">
                  {u.username}
                  {u.id === p.user.id && <span class="muted small"> (you)</span>}
                </td>
                <td>
                  <select aria-label={`Role of ${u.username}`} value={u.role} disabled={busy[u.id]} onChange={(e) => change(u, { role: e.currentTarget.value })}>
                    {ROLES.map((r) => (
                      <option value={r}>{r}</option>
                    ))}
                  </select>
                </td>
                <td class="small">{formatTime(u.created_at)}</td>
                <td>
                  {u.disabled ? <span class="badge bad">disabled</span> : <span class="badge good">active</span>}{' '}
                  {u.must_change_password && <span class="badge warn">must change password</span>}
                </td>
                <td class="actions">
                  {u.disabled ? (
                    <button onClick={() => change(u, { disabled: false })} disabled={busy[u.id]}>
                      Enable
                    </button>
                  ) : (
                    <button class="danger" onClick={() => change(u, { disabled: true })} disabled={busy[u.id]}>
                      Disable
                    </button>
                  )}
                  <button onClick={() => setResetting(u)}>Reset password</button>
                </td>
              </tr>,
              rowError[u.id] && (
                <tr key={u.id + '-error'}>
                  <td colSpan={5}>
                    <div class="error" role="alert" data-testid="row-error">
                      {u.username}: {rowError[u.id]}
                    </div>
                  </td>
                </tr>
              ),
            ])}
          </tbody>
        </table>
      )}
      {resetting && (
        <ResetPassword
          user={resetting}
          onClose={() => setResetting(null)}
          onDone={() => {
            setNotice(`New password set for ${resetting.username}; they choose their own at the next login.`);
            setResetting(null);
            load();
          }}
        />
      )}
    </Shell>
  );
}

function AddUser({ onAdded }: { onAdded: (u: Account) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPw] = useState('');
  const [role, setRole] = useState('member');
  const [mustChange, setMustChange] = useState(true);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    try {
      const u = await createUser({ username: username.trim(), password, role, must_change_password: mustChange });
      setUsername('');
      setPw('');
      onAdded(u);
    } catch (err) {
      setErrors(fieldErrors(err, (code, msg) => (/name|user/.test(code) || /username|name/.test(msg) ? 'username' : /password/.test(code + msg) ? 'password' : /role/.test(code + msg) ? 'role' : undefined)));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card form section" onSubmit={submit} aria-label="Add a user" data-testid="add-user">
      <h3>Add a user</h3>
      <div class="row top">
        <Field label="Username" error={errors.username}>
          <input name="username" autoComplete="off" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        </Field>
        <Field label="Password" error={errors.password}>
          <input name="password" type="password" autoComplete="new-password" required value={password} onInput={(e) => setPw(e.currentTarget.value)} />
        </Field>
        <Field label="Role" error={errors.role}>
          <select name="role" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
            {ROLES.map((r) => (
              <option value={r}>{r}</option>
            ))}
          </select>
        </Field>
      </div>
      <label class="check">
        <input type="checkbox" name="must_change_password" checked={mustChange} onChange={(e) => setMustChange(e.currentTarget.checked)} /> Ask for a new password at
        first login
      </label>
      <FormError errors={errors} />
      <div class="row">
        <button class="primary" type="submit" disabled={busy || !username.trim() || !password}>
          {busy ? 'Adding…' : 'Add user'}
        </button>
      </div>
    </form>
  );
}

function ResetPassword({ user, onClose, onDone }: { user: Account; onClose: () => void; onDone: () => void }) {
  const [password, setPw] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      await setPassword(user.id, { password, must_change_password: true });
      onDone();
    } catch (err) {
      setErrors(fieldErrors(err, (code, msg) => (/password/.test(code + msg) ? 'password' : undefined)));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal title={`Reset the password of ${user.username}`} onClose={onClose}>
      <form class="form" onSubmit={submit}>
        <p class="muted">Their sessions end. They must choose a new password of their own at the next login.</p>
        <Field label="Temporary password" error={errors.password}>
          <input name="password" type="password" autoComplete="new-password" autoFocus required value={password} onInput={(e) => setPw(e.currentTarget.value)} />
        </Field>
        <FormError errors={errors} />
        <div class="row end">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button class="primary" type="submit" disabled={busy || !password}>
            Set password
          </button>
        </div>
      </form>
    </Modal>
  );
}
