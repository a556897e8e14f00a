/** Analysis of one Python file: its definitions, their calls, and its imports. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findDocstring, textSpan } from './docstring.js';
import { parsePython, query, type SyntaxNode } from './parse.js';
import type { CallSite, Definition, ImportBinding, ModuleAnalysis } from './types.js';

// One query, matched natively: far cheaper than walking every node from JavaScript.
let structure: ReturnType<typeof query> | null = null;
function structureQuery(): ReturnType<typeof query> {
  structure ??= query(`
    (function_definition) @def
    (class_definition) @def
    (call function: (_) @callee)
    (lambda) @lambda
    (import_statement) @import
    (import_from_statement) @import
    (assignment left: (_) @bind)
    (augmented_assignment left: (_) @bind)
    (for_statement left: (_) @bind)
    (for_in_clause left: (_) @bind)
    (as_pattern_target) @bind
    (named_expression name: (_) @bind)
    (lambda parameters: (_) @bind)
  `);
  return structure;
}

/** `pkg/sub/mod.py` → `pkg.sub.mod`; `pkg/__init__.py` → `pkg`. */
export function moduleName(file: string): { module: string; isPackage: boolean } {
  const parts = file.replace(/\.py$/, '').split('/');
  const isPackage = parts[parts.length - 1] === '__init__';
  if (isPackage) parts.pop();
  return { module: parts.join('.'), isPackage };
}

const DOTTED = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/** The callee as a dotted path, `super().name`, or null for any other expression. */
function calleePath(node: SyntaxNode): string | null {
  if (node.type === 'identifier') return node.text;
  if (node.type !== 'attribute') return null;
  const text = node.text.replace(/\s+/g, '');
  if (DOTTED.test(text)) return text;
  const sup = /^super\(\)\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(text);
  return sup ? `super().${sup[1]}` : null;
}

/** The names a binding target or a parameter list binds; attributes and subscripts bind none. */
function boundNames(node: SyntaxNode): string[] {
  if (node.type === 'identifier') return [node.text];
  if (node.type === 'attribute' || node.type === 'subscript' || node.type === 'type') return [];
  // A parameter with a default: its name only, not the names its default value mentions.
  const name = node.childForFieldName('name');
  if (name && (node.type === 'default_parameter' || node.type === 'typed_default_parameter')) return boundNames(name);
  return node.namedChildren.flatMap(boundNames);
}

function signatureEnd(def: SyntaxNode, body: SyntaxNode): number {
  let colon = body.startPosition.row;
  for (const child of def.children) {
    if (child.startIndex >= body.startIndex) break;
    if (child.type === ':') colon = child.endPosition.row;
  }
  return colon + 1;
}

function definitionOf(node: SyntaxNode, source: string, module: string, file: string, parent: Definition | null): Definition {
  const name = node.childForFieldName('name')!.text;
  const body = node.childForFieldName('body')!;
  const outer = node.parent?.type === 'decorated_definition' ? node.parent : node;
  const decorators = outer === node ? [] : outer.namedChildren.filter((c) => c.type === 'decorator');
  const isClass = node.type === 'class_definition';
  const bases = isClass
    ? (node.childForFieldName('superclasses')?.namedChildren ?? []).filter((c) => c.type !== 'keyword_argument' && c.type !== 'comment').map((c) => c.text)
    : [];
  return {
    kind: isClass ? 'class' : parent?.kind === 'class' ? 'method' : 'function',
    name,
    qualname: parent ? `${parent.qualname}.${name}` : name,
    module,
    file,
    span: textSpan(outer),
    defLine: node.startPosition.row + 1,
    decorators: decorators.length
      ? { start: decorators[0]!.startPosition.row + 1, end: decorators[decorators.length - 1]!.endPosition.row + 1 }
      : null,
    signature: { start: node.startPosition.row + 1, end: signatureEnd(node, body) },
    body: textSpan(body),
    docstring: findDocstring(body, source),
    calls: [],
    locals: isClass ? [] : boundNames(node.childForFieldName('parameters')!),
    parent: parent?.qualname ?? null,
    bases,
  };
}

/** The package a relative import starts from: one level up per leading dot. */
function resolveRelative(dots: number, rest: string, module: string, isPackage: boolean): string {
  const parts = module.split('.');
  const base = isPackage ? parts : parts.slice(0, -1);
  const up = base.slice(0, Math.max(0, base.length - (dots - 1)));
  return [...up, ...(rest ? rest.split('.') : [])].filter(Boolean).join('.');
}

function importsOf(node: SyntaxNode, module: string, isPackage: boolean): ImportBinding[] {
  const out: ImportBinding[] = [];
  if (node.type === 'import_statement') {
    for (const child of node.namedChildren) {
      if (child.type === 'dotted_name') {
        // `import a.b` binds `a`; attribute access reaches `a.b`.
        const head = child.text.split('.')[0]!;
        out.push({ local: head, target: head, kind: 'module' });
      } else if (child.type === 'aliased_import') {
        const target = child.childForFieldName('name')!.text;
        out.push({ local: child.childForFieldName('alias')!.text, target, kind: 'module' });
      }
    }
    return out;
  }
  const moduleNode = node.childForFieldName('module_name');
  if (!moduleNode) return out;
  let from = moduleNode.text;
  if (moduleNode.type === 'relative_import') {
    const prefix = moduleNode.namedChildren.find((c) => c.type === 'import_prefix')?.text ?? '.';
    const rest = moduleNode.namedChildren.find((c) => c.type === 'dotted_name')?.text ?? '';
    from = resolveRelative(prefix.length, rest, module, isPackage);
  }
  for (const child of node.namedChildren) {
    if (child === moduleNode) continue;
    if (child.type === 'dotted_name') {
      const name = child.text;
      out.push({ local: name, target: `${from}.${name}`, kind: 'from', from, name });
    } else if (child.type === 'aliased_import') {
      const name = child.childForFieldName('name')!.text;
      out.push({ local: child.childForFieldName('alias')!.text, target: `${from}.${name}`, kind: 'from', from, name });
    }
  }
  return out;
}

function assignedNames(root: SyntaxNode): string[] {
  const names: string[] = [];
  for (const stmt of root.namedChildren) {
    if (stmt.type !== 'expression_statement') continue;
    const assign = stmt.firstNamedChild;
    if (assign?.type !== 'assignment') continue;
    const left = assign.childForFieldName('left');
    if (left?.type === 'identifier') names.push(left.text);
  }
  return names;
}

export type ModuleResult = { analysis: ModuleAnalysis } | { error: string };

export type FileAnswer = { file: string; bytes: number } & ModuleResult;

/** Reads and analyses one file of a repository; an unreadable file is reported, not thrown. */
export async function analyzeFile(root: string, file: string): Promise<FileAnswer> {
  try {
    const source = await readFile(join(root, file), 'utf8');
    return { file, bytes: Buffer.byteLength(source), ...analyzeModule(file, source) };
  } catch (err) {
    return { file, bytes: 0, error: `unreadable: ${(err as Error).message}` };
  }
}

export function analyzeModule(file: string, source: string): ModuleResult {
  const parsed = parsePython(source);
  if ('error' in parsed) return parsed;
  const root = parsed.tree.rootNode;
  const { module, isPackage } = moduleName(file);
  const definitions: Definition[] = [];
  const imports: ImportBinding[] = [];
  // Open definitions and lambdas, innermost last; captures arrive in document order.
  const open: { end: number; def: Definition }[] = [];
  const lambdas: number[] = [];
  for (const { name, node } of structureQuery().captures(root)) {
    while (open.length && open[open.length - 1]!.end <= node.startIndex) open.pop();
    while (lambdas.length && lambdas[lambdas.length - 1]! <= node.startIndex) lambdas.pop();
    const current = open[open.length - 1]?.def ?? null;
    switch (name) {
      case 'def': {
        const def = definitionOf(node, source, module, file, current);
        definitions.push(def);
        open.push({ end: node.endIndex, def });
        break;
      }
      case 'lambda':
        lambdas.push(node.endIndex);
        break;
      case 'callee': {
        // A call in a definition's default values runs in the enclosing scope, not the body.
        const owner = current && node.startIndex < current.body.startIndex ? (open[open.length - 2]?.def ?? null) : current;
        const call: CallSite = { line: node.startPosition.row + 1, callee: calleePath(node), inLambda: lambdas.length > 0 };
        owner?.calls.push(call);
        break;
      }
      case 'import':
        imports.push(...importsOf(node, module, isPackage));
        break;
      case 'bind':
        // Names bound in a function body (or in a lambda or comprehension inside it) are
        // its locals; class bodies are not scopes that functions see.
        if (current && current.kind !== 'class' && node.startIndex >= current.body.startIndex) {
          for (const local of boundNames(node)) if (!current.locals.includes(local)) current.locals.push(local);
        }
        break;
    }
  }
  return {
    analysis: { file, module, isPackage, definitions, imports, assigned: assignedNames(root), docstring: findDocstring(root, source) },
  };
}
