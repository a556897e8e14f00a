/**
 * Gold answers applied the way an agent would: through the str_replace_editor tool.
 * `read` gives the current text of a workspace file (relative path).
 */
import { analyzeModule } from '../../env/analysis/module.js';
import type { ToolBox } from '../../env/tools/toolbox.js';
import type { DepSearchInstance, FuncLocalizeInstance } from '../../schemas/tasks.js';

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
