// A small, safe Markdown renderer for chat answers: fenced code blocks
// (highlighted by Monaco when loaded) with copy/insert, inline code, bold,
// paragraphs and lists. Everything else is text: no HTML passes through.
import { useEffect, useRef } from 'preact/hooks';

function inline(text: string): preact.JSX.Element[] {
  const out: preact.JSX.Element[] = [];
  const re = /(`[^`]+`|\*\*[^*]+\*\*)/g;
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m.index! > last) out.push(<>{text.slice(last, m.index)}</>);
    const t = m[0];
    out.push(t.startsWith('`') ? <code>{t.slice(1, -1)}</code> : <b>{t.slice(2, -2)}</b>);
    last = m.index! + t.length;
  }
  if (last < text.length) out.push(<>{text.slice(last)}</>);
  return out;
}

function Code({ code, lang, onInsert }: { code: string; lang: string; onInsert?: (c: string) => void }) {
  const ref = useRef<HTMLElement>(null);
  useEffect(() => {
    let gone = false;
    import('../monaco').then(async ({ monaco }) => {
      const known = monaco.languages.getLanguages().some((l) => l.id === lang || l.aliases?.includes(lang));
      if (!known || gone || !ref.current) return;
      const html = await monaco.editor.colorize(code, lang, {});
      if (!gone && ref.current) ref.current.innerHTML = html; // Monaco escapes the code it colours.
    });
    return () => {
      gone = true;
    };
  }, [code, lang]);
  return (
    <div class="md-code">
      <div class="md-code-bar">
        <span class="muted small">{lang || 'text'}</span>
        <span class="spacer" />
        <button class="icon" onClick={() => navigator.clipboard?.writeText(code)} title="Copy">
          Copy
        </button>
        {onInsert && (
          <button class="icon" onClick={() => onInsert(code)} title="Insert at the cursor">
            Insert
          </button>
        )}
      </div>
      <pre>
        <code ref={ref}>{code}</code>
      </pre>
    </div>
  );
}

export function Markdown({ text, onInsert }: { text: string; onInsert?: (c: string) => void }) {
  const blocks: preact.JSX.Element[] = [];
  const lines = text.split('\n');
  let i = 0;
  while (i < lines.length) {
    const fence = lines[i].match(/^```\s*([\w+-]*)/);
    if (fence) {
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i].startsWith('```')) body.push(lines[i++]);
      i++;
      blocks.push(<Code code={body.join('\n')} lang={fence[1].toLowerCase()} onInsert={onInsert} />);
      continue;
    }
    if (/^\s*([-*]|\d+\.)\s+/.test(lines[i])) {
      const items: string[] = [];
      while (i < lines.length && /^\s*([-*]|\d+\.)\s+/.test(lines[i])) items.push(lines[i++].replace(/^\s*([-*]|\d+\.)\s+/, ''));
      blocks.push(<ul>{items.map((t) => <li>{inline(t)}</li>)}</ul>);
      continue;
    }
    const para: string[] = [];
    while (i < lines.length && lines[i].trim() !== '' && !lines[i].startsWith('```')) para.push(lines[i++]);
    if (para.length) blocks.push(<p>{inline(para.join('\n'))}</p>);
    else i++;
  }
  return <div class="md">{blocks}</div>;
}
