// Where a preview sends a browser that has no session on its origin: the
// app (where the user is logged in) asks for a one-use link for that host
// and goes back with it.
import { useEffect, useState } from 'preact/hooks';
import { authorizePreview } from '../api/previews';
import { errorMessage } from '../api/http';

export function PreviewLogin({ url }: { url: URL }) {
  const host = url.searchParams.get('host') || '';
  const next = url.searchParams.get('next') || '/';
  const [error, setError] = useState('');
  useEffect(() => {
    authorizePreview({ host, next })
      .then((link) => location.replace(link.url))
      .catch((e) => setError(errorMessage(e)));
  }, [host, next]);
  return (
    <div class="center">
      {error ? (
        <p class="error" data-testid="preview-error">
          Cannot open the preview of {host}: {error}
        </p>
      ) : (
        <p class="muted">Opening the preview of {host}…</p>
      )}
    </div>
  );
}
