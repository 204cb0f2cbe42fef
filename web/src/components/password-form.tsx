// Changing one's own password: the current one, the new one twice. Used by
// "My account" and by the screen that forces a new password at first login.
import { useState } from 'preact/hooks';
import { changePassword } from '../api/auth';
import { Field, FieldErrors, fieldErrors, FormError } from './field';

/// Which field a refusal of `POST /auth/password` is about.
const pick = (code: string, msg: string) =>
  /current|credential|wrong|incorrect/.test(code + ' ' + msg) ? 'current' : /password|short|weak|long|same/.test(code + ' ' + msg) ? 'next' : undefined;

export function PasswordForm({ onChanged, submitLabel = 'Change password' }: { onChanged: () => void; submitLabel?: string }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (next !== repeat) return setErrors({ repeat: 'The two new passwords differ.' });
    if (next === current) return setErrors({ next: 'Choose a password different from the current one.' });
    setBusy(true);
    setErrors({});
    try {
      await changePassword({ current_password: current, new_password: next });
      setCurrent('');
      setNext('');
      setRepeat('');
      onChanged();
    } catch (err) {
      setErrors(fieldErrors(err, pick));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="form narrow" onSubmit={submit} data-testid="password-form">
      <Field label="Current password" error={errors.current}>
        <input name="current_password" type="password" autoComplete="current-password" required value={current} onInput={(e) => setCurrent(e.currentTarget.value)} />
      </Field>
      <Field label="New password" error={errors.next}>
        <input name="new_password" type="password" autoComplete="new-password" required value={next} onInput={(e) => setNext(e.currentTarget.value)} />
      </Field>
      <Field label="Repeat the new password" error={errors.repeat}>
        <input name="repeat_password" type="password" autoComplete="new-password" required value={repeat} onInput={(e) => setRepeat(e.currentTarget.value)} />
      </Field>
      <FormError errors={errors} />
      <div class="row">
        <button class="primary" type="submit" disabled={busy || !current || !next || !repeat}>
          {busy ? 'Saving…' : submitLabel}
        </button>
      </div>
    </form>
  );
}
