// Where a preview sends a browser that has no session on its origin: the
// app (where the user is logged in) asks for a one-use link for that host
// and goes back with it — after a click, so that another site cannot send
// the user here to log them into a preview unawares.
import { useState } from 'preact/hooks';
import { authorizePreview } from '../api/previews';
import { errorMessage } from '../api/http';

export function PreviewLogin({ url }: { url: URL }) {
  const host = url.searchParams.get('host') || '';
  const next = url.searchParams.get('next') || '/';
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const open = () => {
    setBusy(true);
    authorizePreview({ host, next })
      .then((link) => location.replace(link.url))
      .catch((e) => {
        setBusy(false);
        setError(errorMessage(e));
      });
  };
  return (
    <div class="center">
      <div class="card" style="max-width: 560px; padding: 20px">
        <h2>Open a preview</h2>
        <p>
          Open <code>{host}</code> as yourself? Only do this if you meant to visit it.
        </p>
        <button class="primary" onClick={open} disabled={busy}>
          {busy ? 'Opening…' : 'Open preview'}
        </button>
        {error && (
          <p class="error" data-testid="preview-error">
            Cannot open the preview of {host}: {error}
          </p>
        )}
      </div>
    </div>
  );
}
