// `@path/to/file` mentions in a chat message: completing them while typing
// and putting the mentioned files' content into the context.
import { readText } from '../../api/files';

/// The partial mention being typed at the end of the input (`@src/ma`), if any.
export const typedMention = (input: string) => input.match(/@([\w./-]*)$/)?.[1] ?? null;

/// The input with the mention being typed replaced by the chosen path.
export const completeMention = (input: string, path: string) => input.replace(/@[\w./-]*$/, `@${path} `);

/// The content of up to 8 mentioned files, as context for the model.
export async function readMentions(id: string, text: string): Promise<string> {
  const paths = [...new Set([...text.matchAll(/@([\w./-]+)/g)].map((m) => m[1]))].slice(0, 8);
  const parts: string[] = [];
  for (const p of paths) {
    try {
      const { text: body } = await readText(id, p);
      parts.push(`File ${p}:\n\`\`\`\n${body.slice(0, 20000)}\n\`\`\``);
    } catch {
      parts.push(`(File ${p} could not be read.)`);
    }
  }
  return parts.join('\n\n');
}
