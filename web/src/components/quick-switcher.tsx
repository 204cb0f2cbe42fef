// Ctrl/Cmd+Shift+K: type to filter workspaces, Enter to open.
import { useEffect, useState } from 'preact/hooks';
import { listWorkspaces } from '../api/workspaces';
import type { Workspace } from '../api/types';
import { recentWorkspaces } from '../router';
import { Modal } from './modal';

export function QuickSwitcher({ onClose, onPick }: { onClose: () => void; onPick: (w: Workspace) => void }) {
  const [all, setAll] = useState<Workspace[]>([]);
  const [filter, setFilter] = useState('');
  const [sel, setSel] = useState(0);
  useEffect(() => {
    listWorkspaces().then((l) => {
      const recent = recentWorkspaces();
      const rank = (w: Workspace) => (recent.indexOf(w.id) + 1 || 99);
      setAll([...l].sort((a, b) => rank(a) - rank(b)));
    });
  }, []);
  const shown = all.filter((w) => w.name.includes(filter.toLowerCase()));
  return (
    <Modal title="Switch workspace" onClose={onClose}>
      <input
        class="switcher-input"
        autoFocus
        placeholder="Workspace name…"
        value={filter}
        onInput={(e) => (setFilter(e.currentTarget.value), setSel(0))}
        onKeyDown={(e) => {
          if (e.key === 'ArrowDown') setSel((s) => Math.min(s + 1, shown.length - 1));
          else if (e.key === 'ArrowUp') setSel((s) => Math.max(s - 1, 0));
          else if (e.key === 'Enter' && shown[sel]) onPick(shown[sel]);
        }}
      />
      <ul class="switcher-list">
        {shown.map((w, i) => (
          <li class={i === sel ? 'selected' : ''} onMouseEnter={() => setSel(i)} onClick={() => onPick(w)}>
            <span>{w.name}</span>
            <span class={`state state-${w.state}`}>{w.state}</span>
          </li>
        ))}
        {shown.length === 0 && <li class="muted">No match</li>}
      </ul>
    </Modal>
  );
}
