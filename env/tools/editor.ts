/**
 * str_replace_editor: view, create, str_replace, insert and undo_edit on the sandbox's
 * files. Edits keep every byte they do not touch, so a grader sees exactly what the agent
 * changed. Undo history lives here, per episode, per file.
 */
import { posix } from 'node:path';
import { SandboxFileError, type FileRead, type Sandbox } from '../sandbox.js';
import type { StrReplaceEditorArgs } from '../../schemas/tools.js';
import { invalid, type Observation } from './observation.js';

/** Larger files can be viewed by range but not loaded whole or edited. */
const MAX_EDIT_BYTES = 8 * 2 ** 20;
/** A whole-file view longer than this is cut at a line boundary, with a note. */
const MAX_VIEW_CHARS = 30_000;
const SNIPPET_CONTEXT = 4;
const HISTORY_DEPTH = 32;

type Text = { text: string } | { error: Observation };

export function numberLines(lines: readonly string[], first: number): string {
  return lines.map((line, i) => `${String(first + i).padStart(6)}\t${line}`).join('\n');
}

/** A whole file with line numbers, cut at a line boundary past MAX_VIEW_CHARS. */
function numberWhole(text: string): string {
  const lines = splitLines(text);
  const shown = numberLines(lines, 1);
  if (shown.length <= MAX_VIEW_CHARS) return shown;
  const kept = shown.slice(0, Math.max(shown.lastIndexOf('\n', MAX_VIEW_CHARS), 0));
  const last = kept.split('\n').length;
  return `${kept}\n[The file has ${lines.length} lines; lines 1-${last} are shown. Use view_range to see the rest.]`;
}

/** The file's lines, without the empty string after a final newline. */
function splitLines(text: string): string[] {
  // An empty file has no lines (as the executor counts them for view_range and insert).
  if (text === '') return [];
  const lines = text.split('\n');
  if (text.endsWith('\n')) lines.pop();
  return lines;
}

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

export class Editor {
  /** Earlier contents per path, newest last; null: the file did not exist. */
  private readonly history = new Map<string, (string | null)[]>();

  constructor(private readonly sandbox: Sandbox) {}

  async run(args: StrReplaceEditorArgs): Promise<Observation> {
    if (!posix.isAbsolute(args.path)) {
      return invalid(`the path ${args.path} is not absolute; it should start with /.`);
    }
    const path = posix.normalize(args.path);
    try {
      switch (args.command) {
        case 'view':
          return await this.view(path, args.view_range);
        case 'create':
          if (args.file_text === undefined) return invalid('create needs file_text.');
          return await this.create(path, args.file_text);
        case 'str_replace':
          if (args.old_str === undefined) return invalid('str_replace needs old_str.');
          return await this.strReplace(path, args.old_str, args.new_str ?? '');
        case 'insert':
          if (args.insert_line === undefined) return invalid('insert needs insert_line.');
          if (args.new_str === undefined) return invalid('insert needs new_str.');
          return await this.insert(path, args.insert_line, args.new_str);
        case 'undo_edit':
          return await this.undo(path);
      }
    } catch (err) {
      if (err instanceof SandboxFileError) return invalid(`${args.command} ${path} failed: ${err.message} (${err.code}).`);
      throw err;
    }
  }

  private describe(path: string, read: FileRead): Observation | null {
    switch (read.kind) {
      case 'missing':
        return invalid(`the path ${path} does not exist.`);
      case 'dir':
        return invalid(`${path} is a directory; only view works on directories.`);
      case 'other':
        return invalid(`${path} is not a regular file.`);
      case 'file':
        if (read.binary) return invalid(`${path} is a binary file; the editor works on text files only. Use execute_bash to inspect it.`);
        if (read.tooLarge || read.text === undefined) {
          return invalid(`${path} is too large to load whole (${read.size} bytes); view it with view_range, or use execute_bash.`);
        }
        return null;
    }
  }

  private async load(path: string): Promise<Text> {
    const read = await this.sandbox.readFile(path, { maxBytes: MAX_EDIT_BYTES });
    const problem = this.describe(path, read);
    if (problem) return { error: problem };
    return { text: (read as { text: string }).text };
  }

  private async view(path: string, range: number[] | undefined): Promise<Observation> {
    if (range) return this.viewRange(path, range);
    const read = await this.sandbox.readFile(path, { maxBytes: MAX_EDIT_BYTES });
    if (read.kind === 'dir') return this.viewDir(path);
    const problem = this.describe(path, read);
    if (problem) return problem;
    return { text: `Here is the result of running \`cat -n\` on ${path}:\n${numberWhole((read as { text: string }).text)}` };
  }

  private async viewRange(path: string, range: number[]): Promise<Observation> {
    const [start, end] = range as [number, number];
    if (start < 1) return invalid(`view_range start must be 1 or more, not ${start}.`);
    if (end !== -1 && end < start) return invalid(`view_range end (${end}) must be -1 or at least start (${start}).`);
    const read = await this.sandbox.readFile(path, { maxBytes: MAX_EDIT_BYTES, lines: [start, end] });
    if (read.kind === 'dir') return invalid('view_range applies to files, not directories.');
    if (read.kind === 'file' && read.tooLarge && !read.binary) {
      return invalid(`lines ${start} to ${end} of ${path} hold more than ${MAX_EDIT_BYTES} bytes; ask for a smaller view_range.`);
    }
    const problem = this.describe(path, read);
    if (problem) return problem;
    const total = read.kind === 'file' ? (read.totalLines ?? 0) : 0;
    if (start > total) return invalid(`view_range start ${start} is past the end of the file, which has ${total} lines.`);
    if (end > total) return invalid(`view_range end ${end} is past the end of the file, which has ${total} lines; use -1 for the end.`);
    const lines = splitLines((read as { text: string }).text);
    return { text: `Here is the result of running \`cat -n\` on ${path} (lines ${start}-${start + lines.length - 1} of ${total}):\n${numberLines(lines, start)}` };
  }

  private async viewDir(path: string): Promise<Observation> {
    const listing = await this.sandbox.listDir(path, 2);
    // posix.normalize keeps a trailing slash; without stripping it rows read /workspace//a.
    const base = path.replace(/\/+$/, '');
    const rows = listing.entries.map((e) => `${base}/${e.path}${e.dir ? '/' : ''}`);
    const note = listing.truncated ? `\n[The listing was cut after ${rows.length} entries.]` : '';
    return { text: `Here are the files and directories up to 2 levels deep in ${path}, excluding hidden items:\n${[path, ...rows].join('\n')}${note}` };
  }

  private remember(path: string, previous: string | null): void {
    const stack = this.history.get(path) ?? [];
    stack.push(previous);
    if (stack.length > HISTORY_DEPTH) stack.shift();
    this.history.set(path, stack);
  }

  private async create(path: string, text: string): Promise<Observation> {
    const existing = await this.sandbox.readFile(path, { maxBytes: 0 });
    if (existing.kind !== 'missing') {
      return invalid(`${path} already exists; create does not overwrite. Use str_replace or insert to change it.`);
    }
    await this.sandbox.writeFile(path, text, { exclusive: true, parents: true });
    this.remember(path, null);
    return { text: `File created successfully at: ${path}` };
  }

  private snippet(path: string, text: string, firstChanged: number, lastChanged: number): Observation {
    const lines = splitLines(text);
    const from = Math.max(1, firstChanged - SNIPPET_CONTEXT);
    const to = Math.min(lines.length, lastChanged + SNIPPET_CONTEXT);
    return {
      text:
        `The file ${path} has been edited. Here is the result of running \`cat -n\` on a snippet of ${path}:\n` +
        `${numberLines(lines.slice(from - 1, to), from)}\n` +
        'Review the changes and make sure they are as expected. Edit the file again if necessary.',
    };
  }

  private async strReplace(path: string, oldStr: string, newStr: string): Promise<Observation> {
    if (oldStr === '') return invalid('old_str must not be empty.');
    if (oldStr === newStr) return invalid('old_str and new_str are the same; nothing would change.');
    const loaded = await this.load(path);
    if ('error' in loaded) return loaded.error;
    const text = loaded.text;
    const at: number[] = [];
    for (let i = text.indexOf(oldStr); i >= 0 && at.length < 10; i = text.indexOf(oldStr, i + 1)) at.push(i);
    if (at.length === 0) return invalid(`no replacement was made: old_str did not appear verbatim in ${path}.`);
    if (at.length > 1) {
      const lines = at.map((i) => lineOf(text, i));
      return invalid(`no replacement was made: old_str occurs ${at.length === 10 ? '10 or more' : at.length} times in ${path}, at lines ${lines.join(', ')}. Include more context so that it is unique.`);
    }
    const index = at[0]!;
    const updated = text.slice(0, index) + newStr + text.slice(index + oldStr.length);
    await this.sandbox.writeFile(path, updated);
    this.remember(path, text);
    const first = lineOf(text, index);
    return this.snippet(path, updated, first, first + Math.max(0, newStr.split('\n').length - 1));
  }

  private async insert(path: string, after: number, newStr: string): Promise<Observation> {
    const loaded = await this.load(path);
    if ('error' in loaded) return loaded.error;
    const text = loaded.text;
    const lines = splitLines(text);
    if (after > lines.length) {
      return invalid(`insert_line ${after} is out of range: ${path} has ${lines.length} lines, so 0 to ${lines.length} are allowed.`);
    }
    const inserted = splitLines(newStr);
    if (newStr === '' || inserted.length === 0) inserted.push('');
    const trailingNewline = text.endsWith('\n') || text === '';
    const merged = [...lines.slice(0, after), ...inserted, ...lines.slice(after)];
    const updated = merged.join('\n') + (trailingNewline ? '\n' : '');
    await this.sandbox.writeFile(path, updated);
    this.remember(path, text);
    return this.snippet(path, updated, after + 1, after + inserted.length);
  }

  private async undo(path: string): Promise<Observation> {
    const stack = this.history.get(path);
    if (!stack || stack.length === 0) return invalid(`no edit history found for ${path}.`);
    // Pop only once the undo has happened: a refused write keeps the step for a retry.
    const previous = stack[stack.length - 1]!;
    if (previous === null) {
      await this.sandbox.removeFile(path);
      stack.pop();
      return { text: `Undid the creation of ${path}; the file was removed.` };
    }
    await this.sandbox.writeFile(path, previous);
    stack.pop();
    return { text: `Last edit to ${path} undone successfully. Here is the result of running \`cat -n\` on ${path}:\n${numberWhole(previous)}` };
  }
}
