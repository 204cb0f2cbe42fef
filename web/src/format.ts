// Numbers for people: byte sizes.

/// `1536` → `1.5 KiB`.
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/// A moment for people (local date and time); '–' for none.
export function formatTime(t: string | number | null | undefined): string {
  if (t === null || t === undefined || t === '') return '–';
  const d = new Date(t);
  return isNaN(d.getTime()) ? String(t) : d.toLocaleString();
}

/// `93784` seconds → `1 d 2 h 3 min`.
export function formatDuration(secs: number): string {
  const d = Math.floor(secs / 86400);
  const h = Math.floor((secs % 86400) / 3600);
  const m = Math.floor((secs % 3600) / 60);
  const parts = [d && `${d} d`, h && `${h} h`, (m || (!d && !h)) && `${m} min`].filter(Boolean);
  return parts.join(' ');
}

/// `1234567` → `1,234,567` (the reader's locale).
export const formatCount = (n: number) => n.toLocaleString();
