// Following a workspace's setup (a clone, its devcontainer and the
// owner's dotfiles, or a rebuild): its output as it comes, the step under way, and how it ended.
import { getSetup } from '../api/workspaces';

/// What each step of a setup is called on screen.
export const PHASES: Record<string, string> = {
  clone: 'Cloning…',
  devcontainer: 'Reading devcontainer.json…',
  image: 'Getting the image (pull or build)…',
  container: 'Making the container…',
  lifecycle: 'Running lifecycle commands…',
  dotfiles: 'Installing your dotfiles…',
};

/// Follows the setup of workspace `id` until it ends, giving its last
/// 1000 lines and its phase to `onUpdate`; resolves to the failure's
/// message, or '' when it succeeded. A few failed polls in a row are
/// retried.
export async function followSetup(id: string, onUpdate: (lines: string[], phase: string) => void): Promise<string> {
  let lines: string[] = [];
  let base = 0; // the absolute index of lines[0]
  let next = 0;
  let errors = 0;
  for (;;) {
    let s;
    try {
      s = await getSetup(id, next);
      errors = 0;
    } catch (e) {
      if (++errors >= 5) throw e;
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    lines = [...lines.slice(0, Math.max(0, s.from - base)), ...s.lines];
    if (lines.length > 1000) {
      base += lines.length - 1000;
      lines = lines.slice(lines.length - 1000);
    }
    onUpdate(lines, s.phase);
    next = s.next;
    if (s.state === 'succeeded') return '';
    if (s.state === 'failed') return s.error || s.error_code || 'failed';
    await new Promise((r) => setTimeout(r, 300));
  }
}

/// A setup's output, scrolled to its end.
export function SetupLog({ lines, label }: { lines: string[]; label: string }) {
  if (lines.length === 0) return null;
  return (
    <pre
      class="setup-log"
      data-testid="setup-log"
      role="log"
      aria-label={label}
      ref={(el) => {
        if (el) el.scrollTop = el.scrollHeight;
      }}
    >
      {lines.join('\n')}
    </pre>
  );
}
