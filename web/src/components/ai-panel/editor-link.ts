// What the AI panel gets from the IDE's editor: the open file, and a way to insert code.

/// The file open in the editor (its current text, saved or not), if any.
export type ActiveFile = () => { path: string; text: string } | null;

/// Inserts a code block from an answer into the open file.
export type InsertCode = (code: string) => void;
