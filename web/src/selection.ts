// The editor's current selection, for attaching to a chat message.
let current: { path: string; text: string } | null = null;

export function setSelection(s: { path: string; text: string } | null) {
  current = s && s.text ? s : null;
}

export function getSelection(): { path: string; text: string } | null {
  return current;
}
