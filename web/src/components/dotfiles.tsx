// My dotfiles (the account page): a git repository installed into every
// workspace I make — its install script if it has one, otherwise links to
// its dotfiles in my home — with the output in the workspace's setup log.
import { useEffect, useState } from 'preact/hooks';
import { deleteDotfiles, getDotfiles, setDotfiles } from '../api/auth';
import { errorMessage } from '../api/http';
import type { Dotfiles } from '../api/types';
import { Field, FieldErrors, fieldErrors, FormError } from './field';

export function DotfilesSection() {
  const [current, setCurrent] = useState<Dotfiles | null | undefined>(undefined);
  const [url, setUrl] = useState('');
  const [ref, setRef] = useState('');
  const [errors, setErrors] = useState<FieldErrors>({});
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);

  const show = (d: Dotfiles | null) => {
    setCurrent(d);
    setUrl(d?.url ?? '');
    setRef(d?.ref ?? '');
  };
  useEffect(() => {
    getDotfiles()
      .then(show)
      .catch((e) => setError(errorMessage(e)));
  }, []);

  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setSaved(false);
    try {
      show(await setDotfiles({ url: url.trim(), ref: ref.trim() || null }));
      setErrors({});
      setError('');
      setSaved(true);
    } catch (err) {
      setErrors(fieldErrors(err, (_code, msg) => (/ref|branch|tag/.test(msg) ? 'ref' : 'url')));
    }
    setBusy(false);
  };
  const remove = async () => {
    try {
      await deleteDotfiles();
      show(null);
      setSaved(false);
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  return (
    <section class="card section" data-testid="dotfiles">
      <h3>Dotfiles</h3>
      <p class="muted small">
        A git repository installed into every workspace you make (and again after a rebuild): it is cloned into ~/.dotfiles as you, then its install script runs (install.sh, bootstrap.sh, setup.sh
        and the like), or, if it has none, its dotfiles are linked into your home. Private repositories use your git credentials or SSH key. The output is in the workspace's setup log.
      </p>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      {current === undefined ? (
        !error && <p class="muted">Loading…</p>
      ) : (
        <form class="form" onSubmit={save} aria-label="Dotfiles repository">
          <div class="row top">
            <Field label="Repository" error={errors.url}>
              <input name="dotfiles_url" placeholder="https://github.com/you/dotfiles.git" required value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
            </Field>
            <Field label="Branch or tag" error={errors.ref} hint="Blank: the default branch">
              <input name="dotfiles_ref" value={ref} onInput={(e) => setRef(e.currentTarget.value)} />
            </Field>
          </div>
          <FormError errors={errors} />
          {saved && (
            <p class="small" role="status" data-testid="dotfiles-saved">
              Saved: workspaces you make from now on install it.
            </p>
          )}
          <div class="row">
            <button class="primary" type="submit" disabled={busy || !url.trim()}>
              {current ? 'Save' : 'Use these dotfiles'}
            </button>
            {current && (
              <button type="button" class="danger" onClick={remove}>
                Stop using dotfiles
              </button>
            )}
          </div>
        </form>
      )}
    </section>
  );
}
