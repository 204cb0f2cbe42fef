// The only screen while the server requires a new password (an account an
// admin created or reset with "ask for a new password"): everything else is
// refused with 403 `password_change_required` until it is chosen.
import { useState } from 'preact/hooks';
import { me } from '../api/auth';
import type { User } from '../api/types';
import { PasswordForm } from '../components/password-form';

export function ChangePasswordScreen({ user, onDone, onLogout }: { user: User; onDone: (u: User) => void; onLogout: () => void }) {
  const [error, setError] = useState('');
  const done = async () => {
    try {
      // Continue as the same user, now free to do everything again.
      const u = await me();
      onDone({ ...u, must_change_password: false });
    } catch (e) {
      setError(String((e as Error).message || e));
    }
  };
  return (
    <div class="login">
      <div class="card login-card" data-testid="force-password">
        <h1>
          <span class="logo">▲</span> Choose a new password
        </h1>
        <p class="muted">
          Hello {user.username}. Before you continue, replace the password you were given with one only you know.
        </p>
        <PasswordForm onChanged={done} submitLabel="Set new password" />
        {error && (
          <div class="error" role="alert">
            {error}
          </div>
        )}
        <button class="ghost" onClick={onLogout}>
          Log out
        </button>
      </div>
    </div>
  );
}
