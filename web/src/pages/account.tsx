// My account: change my password (my other sessions end), API tokens for
// scripts and SDKs (the secret shown once), my git credentials, and my
// models per AI feature.
import { useEffect, useState } from 'preact/hooks';
import { errorMessage } from '../api/http';
import { createToken, listTokens, revokeToken } from '../api/auth';
import type { ApiToken, CreatedToken } from '../api/types';
import { PageProps, Shell } from '../components/nav';
import { PasswordForm } from '../components/password-form';
import { Field, FieldErrors, fieldErrors, FormError } from '../components/field';
import { FeatureModelsForm } from '../components/feature-models';
import { Confirm } from '../components/confirm';
import { formatTime } from '../format';
import { GitCredentials } from '../components/git-credentials';
import { SshKeySection } from '../components/ssh-key';
import { DotfilesSection } from '../components/dotfiles';

export function Account(p: PageProps) {
  const [changed, setChanged] = useState(false);
  return (
    <Shell {...p} title="My account">
      <p class="muted">
        Signed in as <b>{p.user.username}</b> ({p.user.role}).
      </p>
      <section class="card section">
        <h3>Password</h3>
        {changed && (
          <div class="notice" role="status" data-testid="password-changed">
            Password changed. Your other sessions were signed out; this one stays signed in.
          </div>
        )}
        <PasswordForm onChanged={() => setChanged(true)} />
      </section>
      <Tokens />
      <GitCredentials />
      <SshKeySection />
      <DotfilesSection />
      <section class="card section">
        <h3>My models</h3>
        <p class="muted small">The model each AI feature uses for you. Leave a field blank to use the admins' default.</p>
        <FeatureModelsForm mode="mine" />
      </section>
    </Shell>
  );
}

function Tokens() {
  const [tokens, setTokens] = useState<ApiToken[] | null>(null);
  const [error, setError] = useState('');
  const [name, setName] = useState('');
  const [days, setDays] = useState('90');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [created, setCreated] = useState<CreatedToken | null>(null);
  const [copied, setCopied] = useState(false);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);
  const [busy, setBusy] = useState(false);

  const load = () =>
    listTokens()
      .then((t) => (setTokens(t), setError('')))
      .catch((e) => setError(errorMessage(e)));
  useEffect(() => {
    load();
  }, []);

  const create = async (e: Event) => {
    e.preventDefault();
    const n = Number(days);
    if (days.trim() && (!Number.isInteger(n) || n < 1)) return setErrors({ days: 'A whole number of days, at least 1 (or blank for no expiry).' });
    setBusy(true);
    setErrors({});
    setCopied(false);
    try {
      const t = await createToken({ name: name.trim(), expires_in_days: days.trim() ? n : null });
      setCreated(t);
      setName('');
      load();
    } catch (err) {
      setErrors(fieldErrors(err, (code, msg) => (/expir|days/.test(code + msg) ? 'days' : /name/.test(code + msg) ? 'name' : undefined)));
    } finally {
      setBusy(false);
    }
  };
  const copy = async () => {
    if (!created) return;
    try {
      await navigator.clipboard.writeText(created.token);
      setCopied(true);
    } catch {
      // No clipboard access (an insecure origin): select it for Ctrl+C.
      (document.getElementById('new-token') as HTMLInputElement | null)?.select();
    }
  };
  const revoke = async (t: ApiToken) => {
    setRevoking(null);
    try {
      await revokeToken(t.id);
      load();
    } catch (e) {
      setError(errorMessage(e));
    }
  };

  return (
    <section class="card section">
      <h3>API tokens</h3>
      <p class="muted small">For the CLI, scripts and any OpenAI SDK (base URL {location.origin}/v1). A token acts as you.</p>
      <form class="form" onSubmit={create} aria-label="Create an API token">
        <div class="row top">
          <Field label="Name" error={errors.name}>
            <input name="token_name" placeholder="e.g. laptop CLI" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </Field>
          <Field label="Expires after (days)" error={errors.days} hint="Blank: never.">
            <input name="token_days" inputMode="numeric" value={days} onInput={(e) => setDays(e.currentTarget.value)} />
          </Field>
        </div>
        <FormError errors={errors} />
        <div class="row">
          <button class="primary" type="submit" disabled={busy || !name.trim()}>
            Create token
          </button>
        </div>
      </form>
      {created && (
        <div class="notice once" role="status" data-testid="new-token">
          <b>Copy this token now: it is shown only once.</b> Anyone who has it can act as you until it expires or is revoked.
          <div class="row">
            <input id="new-token" class="mono" readOnly value={created.token} onFocus={(e) => e.currentTarget.select()} aria-label="The new token" />
            <button type="button" onClick={copy}>
              {copied ? 'Copied' : 'Copy'}
            </button>
            <button type="button" class="ghost" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        </div>
      )}
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      {tokens === null ? (
        !error && <p class="muted">Loading…</p>
      ) : tokens.length === 0 ? (
        <p class="muted">No tokens.</p>
      ) : (
        <table class="ws-table" data-testid="tokens">
          <thead>
            <tr>
              <th>Name</th>
              <th>Kind</th>
              <th>Created</th>
              <th>Last used</th>
              <th>Expires</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {tokens.map((t) => (
              <tr data-token={t.name}>
                <td class="ws-name">{t.name}</td>
                <td>{t.kind}</td>
                <td class="small">{formatTime(t.created_at)}</td>
                <td class="small">{t.last_used_at ? formatTime(t.last_used_at) : 'never'}</td>
                <td class="small">{t.expires_at ? formatTime(t.expires_at) : 'never'}</td>
                <td class="actions">
                  <button class="danger" onClick={() => setRevoking(t)}>
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {revoking && (
        <Confirm
          title={`Revoke ${revoking.name}?`}
          body="Whatever uses this token stops working at once."
          confirm="Revoke"
          onCancel={() => setRevoking(null)}
          onConfirm={() => revoke(revoking)}
        />
      )}
    </section>
  );
}
