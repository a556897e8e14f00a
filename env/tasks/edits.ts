/** Line edits: how a task's change is applied to a snapshot file. */
import type { Edit } from '../../schemas/tasks.js';

/** The lines of a text, each with its newline. */
export function splitLines(text: string): string[] {
  return text.split(/(?<=\n)/);
}

/** The text with lines start..end (1-based, inclusive; end = start - 1 inserts) replaced. */
export function applyEdit(text: string, edit: Pick<Edit, 'start' | 'end' | 'text'>): string {
  const lines = splitLines(text);
  const before = lines.slice(0, edit.start - 1).join('');
  const after = lines.slice(edit.end).join('');
  return before + edit.text + after;
}

/** Applies a file's edits bottom-up, so that earlier line numbers stay valid. */
export function applyEdits(text: string, edits: readonly Edit[]): string {
  return [...edits].sort((a, b) => b.start - a.start).reduce((t, e) => applyEdit(t, e), text);
}

/** Line number of a string index. */
export function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}
