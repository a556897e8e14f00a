/**
 * The func_localize gold answer applied the way a remote agent would: it asks the sandbox
 * where each target's body starts (execute_bash), then inserts the docstring (the editor).
 */
import type { FuncLocalizeInstance } from '../../schemas/tasks.js';
import { docstringLiteral } from './gold.js';

type Step = (action: { tool: string; arguments: Record<string, unknown> }) => Promise<string>;

export async function applyFuncLocalizeGoldThroughSteps(instance: FuncLocalizeInstance, root: string, step: Step): Promise<void> {
  const targets = [...instance.gold.targets].sort((a, b) => (a.file === b.file ? b.line - a.line : a.file < b.file ? -1 : 1));
  for (const t of targets) {
    const path = `${root}/${t.file}`;
    const py = [
      'import ast',
      `src = open(${JSON.stringify(path)}).read()`,
      `n = [n for n in ast.walk(ast.parse(src)) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.lineno == ${t.line}][0]`,
      'print(n.body[0].lineno - 1, n.body[0].col_offset)',
    ].join('\n');
    const out = await step({ tool: 'execute_bash', arguments: { command: `python3 - <<'EOF'\n${py}\nEOF` } });
    const m = /^(\d+) (\d+)$/m.exec(out);
    if (!m) throw new Error(`cannot locate ${t.qualname}: ${out}`);
    const obs = await step({
      tool: 'str_replace_editor',
      arguments: { command: 'insert', path, insert_line: Number(m[1]), new_str: docstringLiteral(t.docstring, ' '.repeat(Number(m[2]))) },
    });
    if (!obs.startsWith('The file')) throw new Error(`insert refused: ${obs}`);
  }
}
