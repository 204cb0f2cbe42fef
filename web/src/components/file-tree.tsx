// The file tree: lazy directories, create/rename/delete, upload by drag and
// drop, download, and live updates from the agent's watch stream.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, token } from '../api/http';
import { archive, listDir, mkdir, readBlob, remove as removePath, rename as renamePath, upload, watch as watchFiles, writeText } from '../api/files';
import type { DirEntry } from '../api/types';

type Dirs = Record<string, DirEntry[] | undefined>;

const join = (dir: string, name: string) => (dir ? `${dir}/${name}` : name);
const parent = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');

/// `live` is false while the container is being made again (a rebuild):
/// nothing in it answers then, so the watch waits, and the open folders are
/// read again after.
export function FileTree({ id, live, onOpen, onError, activePath }: { id: string; live: boolean; onOpen: (p: string) => void; onError: (m: string) => void; activePath: string | null }) {
  const [dirs, setDirs] = useState<Dirs>({});
  const [open, setOpen] = useState<Set<string>>(new Set(['']));
  const [selected, setSelected] = useState<string>('');
  const [dropDir, setDropDir] = useState<string | null>(null);
  const openRef = useRef(open);
  openRef.current = open;

  const load = async (dir: string) => {
    try {
      const list = await listDir(id, dir);
      setDirs((d) => ({ ...d, [dir]: list }));
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) setDirs((d) => ({ ...d, [dir]: undefined }));
      else onError(e instanceof ApiError ? e.message : String(e));
    }
  };

  useEffect(() => {
    if (!live) return;
    openRef.current.forEach((d) => d !== '' && load(d));
    load('');
    // Live updates: reload the open directories that changed.
    const ctrl = new AbortController();
    let retry: ReturnType<typeof setTimeout>;
    const watch = () =>
      watchFiles(id, '', ctrl.signal, (changes) => {
        const touched = new Set(changes.map((c) => parent(c.path)));
        touched.forEach((d) => openRef.current.has(d) && load(d));
      })
        .catch(() => {})
        .finally(() => {
          if (!ctrl.signal.aborted) retry = setTimeout(watch, 2000);
        });
    if (token()) watch();
    return () => {
      ctrl.abort();
      clearTimeout(retry);
    };
  }, [id, live]);

  const toggle = (dir: string) => {
    const next = new Set(open);
    if (next.has(dir)) next.delete(dir);
    else {
      next.add(dir);
      load(dir);
    }
    setOpen(next);
  };

  const targetDir = () => {
    const entry = selected && dirs[parent(selected)]?.find((e) => join(parent(selected), e.name) === selected);
    return entry && entry.kind === 'dir' ? selected : parent(selected);
  };

  const act = async (fn: () => Promise<unknown>, reloadDirs: string[]) => {
    try {
      await fn();
      reloadDirs.forEach(load);
    } catch (e) {
      onError(e instanceof ApiError ? e.message : String(e));
    }
  };

  const newFile = () => {
    const dir = targetDir();
    const name = prompt(`New file in /${dir}`);
    if (!name) return;
    const path = join(dir, name);
    act(() => writeText(id, path, '', { createOnly: true }), [dir]).then(() => onOpen(path));
  };
  const newFolder = () => {
    const dir = targetDir();
    const name = prompt(`New folder in /${dir}`);
    if (name) act(() => mkdir(id, join(dir, name)), [dir]);
  };
  const rename = () => {
    if (!selected) return;
    const to = prompt('Rename to', selected);
    if (to && to !== selected) act(() => renamePath(id, selected, to), [parent(selected), parent(to)]);
  };
  const remove = () => {
    if (!selected || !confirm(`Delete ${selected}?`)) return;
    act(() => removePath(id, selected, true), [parent(selected)]);
    setSelected('');
  };
  const download = async () => {
    const path = selected;
    const entry = dirs[parent(path)]?.find((e) => join(parent(path), e.name) === path);
    try {
      const blob = await (entry?.kind === 'file' ? readBlob(id, path) : archive(id, path));
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = entry?.kind === 'file' ? path.split('/').pop() || 'file' : `${path.split('/').pop() || 'workspace'}.tar.gz`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    } catch (e) {
      onError(e instanceof ApiError ? e.message : String(e));
    }
  };

  const onDrop = async (e: DragEvent, dir: string) => {
    e.preventDefault();
    e.stopPropagation();
    setDropDir(null);
    const files = Array.from(e.dataTransfer?.files || []);
    if (!files.length) return;
    act(() => upload(id, dir, files), [dir]);
  };

  const render = (dir: string, depth: number): preact.JSX.Element[] =>
    (dirs[dir] || []).flatMap((e) => {
      const path = join(dir, e.name);
      const isDir = e.kind === 'dir';
      const row = (
        <div
          class={`tree-row ${selected === path ? 'selected' : ''} ${activePath === path ? 'active' : ''} ${dropDir === path ? 'drop' : ''}`}
          style={{ paddingLeft: `${8 + depth * 14}px` }}
          data-path={path}
          title={path}
          onClick={() => {
            setSelected(path);
            isDir ? toggle(path) : onOpen(path);
          }}
          onDragOver={isDir ? (ev) => (ev.preventDefault(), setDropDir(path)) : undefined}
          onDragLeave={isDir ? () => setDropDir(null) : undefined}
          onDrop={isDir ? (ev) => onDrop(ev, path) : undefined}
        >
          <span class="twisty">{isDir ? (open.has(path) ? '▾' : '▸') : ''}</span>
          <span class={isDir ? 'dir' : 'file'}>{e.name}</span>
        </div>
      );
      return isDir && open.has(path) ? [row, ...render(path, depth + 1)] : [row];
    });

  return (
    <div
      class={`tree ${dropDir === '' ? 'drop' : ''}`}
      onDragOver={(e) => (e.preventDefault(), setDropDir(''))}
      onDrop={(e) => onDrop(e, '')}
    >
      <div class="tree-toolbar">
        <span class="muted small">FILES</span>
        <span class="spacer" />
        <button class="icon" title="New file" onClick={newFile} aria-label="New file">
          +
        </button>
        <button class="icon" title="New folder" onClick={newFolder} aria-label="New folder">
          ▣
        </button>
        <button class="icon" title="Rename" onClick={rename} disabled={!selected} aria-label="Rename">
          ✎
        </button>
        <button class="icon" title="Delete" onClick={remove} disabled={!selected} aria-label="Delete">
          ✕
        </button>
        <button class="icon" title="Download" onClick={download} aria-label="Download">
          ⤓
        </button>
        <button class="icon" title="Refresh" onClick={() => [...open].forEach(load)} aria-label="Refresh">
          ↻
        </button>
      </div>
      <div class="tree-body">{render('', 0)}</div>
      <div class="muted small tree-hint">Drop files here to upload</div>
    </div>
  );
}
