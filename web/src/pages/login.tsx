// The sign-in form; the session token it gets is kept for every later call.
import { useState } from 'preact/hooks';
import { ApiError, setToken } from '../api/http';
import { login, me } from '../api/auth';
import type { User } from '../api/types';

export function Login({ onLogin }: { onLogin: (u: User) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const r = await login({ username, password });
      setToken(r.token);
      // The whole account (whether a new password must be chosen first).
      onLogin(await me().catch(() => r.user));
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="login">
      <form class="card login-card" onSubmit={submit}>
        <h1>
          <span class="logo">▲</span> AiCockpit
        </h1>
        <label>
          Username
          <input name="username" autoComplete="username" autoFocus value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        {error && <div class="error" role="alert">{error}</div>}
        <button class="primary" type="submit" disabled={busy || !username || !password}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </div>
  );
}
