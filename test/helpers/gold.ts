/**
 * Gold answers applied the way an agent would: through the str_replace_editor tool.
 * `read` gives the current text of a workspace file (relative path).
 */
import { snapshotRoot } from '../../env/corpus/load.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { analyzeModule } from '../../env/analysis/module.js';
import { sha256 } from '../../env/corpus/snapshot.js';
import { collectChanges, type Changes } from '../../env/tasks/changes.js';
import { applyEdits } from '../../env/tasks/edits.js';
import { ToolBox } from '../../env/tools/toolbox.js';
import type { DepSearchInstance, FuncGenInstance, FuncLocalizeInstance, IssueLocalizeInstance, TaskInstance } from '../../schemas/tasks.js';
import { MemorySandbox } from './memory-sandbox.js';

type Read = (file: string) => Promise<string>;

async function insert(toolbox: ToolBox, path: string, after: number, text: string): Promise<void> {
  const obs = await toolbox.run({ tool: 'str_replace_editor', arguments: { command: 'insert', path, insert_line: after, new_str: text } });
  if (obs.invalid) throw new Error(`gold insert refused: ${obs.text}`);
}

/** A docstring literal for `text`, indented, safe to embed whatever the text holds. */
export function docstringLiteral(text: string, indent: string): string {
  const body = text.replace(/\\/g, '\\\\').replace(/"""/g, '\\"\\"\\"');
  const lines = body.split('\n').map((l, i) => (i === 0 || l === '' ? l : indent + l));
  return `${indent}"""${lines.join('\n')}${lines.length > 1 ? `\n${indent}` : ''}"""`;
}

export async function applyFuncLocalizeGold(toolbox: ToolBox, root: string, instance: FuncLocalizeInstance, read: Read): Promise<void> {
  // Bottom-up within a file, so earlier insertions do not move later targets.
  const targets = [...instance.gold.targets].sort((a, b) => (a.file === b.file ? b.line - a.line : a.file < b.file ? -1 : 1));
  for (const t of targets) {
    const text = await read(t.file);
    const result = analyzeModule(t.file, text);
    if ('error' in result) throw new Error(`${t.file} does not parse: ${result.error}`);
    const def = result.analysis.definitions.find((d) => d.qualname === t.qualname);
    if (!def) throw new Error(`${t.qualname} not found in ${t.file}`);
    const firstBodyLine = text.split('\n')[def.body.start - 1] ?? '';
    const indent = /^\s*/.exec(firstBodyLine)![0];
    await insert(toolbox, `${root}/${t.file}`, def.signature.end, docstringLiteral(t.docstring, indent));
  }
}

export async function applyDepSearchGold(toolbox: ToolBox, root: string, instance: DepSearchInstance, read: Read): Promise<void> {
  const deps = [...instance.gold.dependencies].sort((a, b) => (a.file === b.file ? b.start - a.start : a.file < b.file ? -1 : 1));
  for (const d of deps) {
    const line = (await read(d.file)).split('\n')[d.start - 1] ?? '';
    const indent = /^\s*/.exec(line)![0];
    await insert(toolbox, `${root}/${d.file}`, d.start - 1, `${indent}${instance.gold.comment}`);
  }
}

/**
 * The original body back in place of the placeholder: str_replace of the placeholder line
 * together with as many lines before it as make it unique in the file (the docstring's end
 * or the signature usually; more where an abstract method of the same signature raises the
 * same placeholder).
 */
export async function applyFuncGenGold(toolbox: ToolBox, root: string, instance: FuncGenInstance, read: Read): Promise<void> {
  const edit = instance.edits[0]!;
  const text = await read(instance.gold.file);
  const lines = text.split('\n');
  const placeholder = lines[edit.start - 1]!;
  const occurrences = (needle: string) => text.split(needle).length - 1;
  let first = edit.start - 2;
  while (first > 0 && occurrences(`${lines.slice(first, edit.start - 1).join('\n')}\n${placeholder}\n`) > 1) first--;
  const before = lines.slice(first, edit.start - 1).join('\n');
  const obs = await toolbox.run({
    tool: 'str_replace_editor',
    arguments: { command: 'str_replace', path: `${root}/${instance.gold.file}`, old_str: `${before}\n${placeholder}\n`, new_str: `${before}\n${instance.gold.body}` },
  });
  if (obs.invalid) throw new Error(`gold str_replace refused: ${obs.text}`);
}

/**
 * A comment directly above the first line of each gold range, bottom-up per file; above the
 * logical line when the range starts on a backslash continuation (a comment line there would
 * end the statement: a code change).
 */
export async function applyIssueLocalizeGold(toolbox: ToolBox, root: string, instance: IssueLocalizeInstance, read: Read): Promise<void> {
  const ranges = [...instance.gold.lines].sort((a, b) => (a.file === b.file ? b.start - a.start : a.file < b.file ? -1 : 1));
  for (const r of ranges) {
    const lines = (await read(r.file)).split('\n');
    let at = r.start - 1;
    while (at > 0 && /\\$/.test(lines[at - 1]!)) at--;
    const indent = /^\s*/.exec(lines[at] ?? '')![0];
    await insert(toolbox, `${root}/${r.file}`, at, `${indent}# the issue comes from here`);
  }
}

/** The gold answer of any family, applied through the tools. */
export function applyGold(toolbox: ToolBox, root: string, instance: TaskInstance, read: Read): Promise<void> {
  if (instance.task === 'func_localize') return applyFuncLocalizeGold(toolbox, root, instance, read);
  if (instance.task === 'dep_search') return applyDepSearchGold(toolbox, root, instance, read);
  if (instance.task === 'func_gen') return applyFuncGenGold(toolbox, root, instance, read);
  return applyIssueLocalizeGold(toolbox, root, instance, read);
}

/**
 * An episode on an instance of a corpus directory, in a MemorySandbox holding the files the
 * instance touches as the agent gets them (edits applied).
 */
export async function corpusEpisode(corpusDir: string, instance: TaskInstance) {
  const files = new Set(instance.edits.map((e) => e.file));
  if (instance.task === 'func_localize') for (const x of instance.gold.targets) files.add(x.file);
  else if (instance.task === 'dep_search') for (const d of instance.gold.dependencies) files.add(d.file);
  else if (instance.task === 'func_gen') files.add(instance.gold.file);
  else for (const f of instance.gold.files) files.add(f);
  const root = `/workspace/${instance.repo.name}`;
  const sandbox = new MemorySandbox();
  const baseline = new Map<string, string>();
  const texts = new Map<string, string>();
  for (const file of files) {
    const original = await readFile(join(snapshotRoot(corpusDir, instance), file), 'utf8');
    const text = applyEdits(original, instance.edits.filter((e) => e.file === file));
    sandbox.put(`${root}/${file}`, text);
    baseline.set(file, sha256(text));
    texts.set(file, text);
  }
  const toolbox = new ToolBox(sandbox);
  const read = async (file: string) => String(sandbox.content(`${root}/${file}`));
  const changes = (): Promise<Changes> => collectChanges(sandbox, root, { files: baseline, read: async (f) => texts.get(f) ?? null });
  return { root, sandbox, toolbox, read, changes, applyGold: () => applyGold(toolbox, root, instance, read) };
}
