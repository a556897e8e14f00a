/** Analysis of one Python file: its definitions, their calls, and its imports. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findDocstring, textSpan } from './docstring.js';
import { LineIndex } from './lines.js';
import { parsePython, type ParseResult, type SyntaxNode } from './parse.js';
import type { CallSite, Definition, ImportBinding, ModuleAnalysis } from './types.js';

// The node types analysis looks at, gathered natively in one pass (in document order):
// far cheaper than walking every node from JavaScript, and cheaper than a query.
const STRUCTURE = [
  'function_definition',
  'class_definition',
  'call',
  'lambda',
  'import_statement',
  'import_from_statement',
  'assignment',
  'augmented_assignment',
  'for_statement',
  'for_in_clause',
  'as_pattern_target',
  'named_expression',
];

/** The part of a binding node that binds names. */
function bindingTarget(node: SyntaxNode): SyntaxNode | null {
  switch (node.type) {
    case 'assignment':
    case 'augmented_assignment':
    case 'for_statement':
    case 'for_in_clause':
      return node.childForFieldName('left');
    case 'named_expression':
      return node.childForFieldName('name');
    case 'lambda':
      return node.childForFieldName('parameters');
    default:
      return node;
  }
}

/** `pkg/sub/mod.py` → `pkg.sub.mod`; `pkg/__init__.py` → `pkg`. */
export function moduleName(file: string): { module: string; isPackage: boolean } {
  const parts = file.replace(/\.py$/, '').split('/');
  const isPackage = parts[parts.length - 1] === '__init__';
  if (isPackage) parts.pop();
  return { module: parts.join('.'), isPackage };
}

const IDENT = String.raw`[\p{L}_][\p{L}\p{N}_]*`;
/** A dotted path (`a`, `a.b`, `a . b`). */
const DOTTED_PATH = String.raw`${IDENT}(?:\s*\.\s*${IDENT})*`;
const DOTTED = new RegExp(`^${DOTTED_PATH}$`, 'u');
const SUPER = new RegExp(String.raw`^super\s*\(\s*(?:(${IDENT})\s*,\s*${IDENT}\s*)?\)\s*\.\s*(${IDENT})$`, 'u');
/** Expressions whose value has a built-in type whatever the names around them. */
const BUILTIN_VALUES = new Set([
  'string', 'concatenated_string', 'integer', 'float', 'list', 'dictionary', 'set', 'tuple',
  'list_comprehension', 'dictionary_comprehension', 'set_comprehension',
]);

/** A dotted name and the parenthesis that opens a call's arguments, read where a call starts. */
const DOTTED_CALL = new RegExp(String.raw`(${DOTTED_PATH})\s*\(`, 'uy');

/**
 * What a call calls, read from its function expression: a dotted path, `super().name`, or
 * the method name of a call on some other expression (`f(x).m()`, `d[k].m()`, `"".join()`).
 *
 * `alone`: no other node analysis looks at starts where this call does. Its function expression
 * then holds no call, so if a dotted name and `(` begin the call, that name is the expression:
 * read from the text, without asking the tree for it (most calls, and the costly part). Calls
 * that start like that but call something else (`a.b(x)(y)`, `a.b(x).c()`) hold a call that
 * starts where they do.
 */
function calleeOf(call: SyntaxNode, start: number, alone: boolean, source: string): Pick<CallSite, 'callee' | 'method' | 'builtinReceiver'> {
  if (alone) {
    DOTTED_CALL.lastIndex = start;
    const dotted = DOTTED_CALL.exec(source);
    if (dotted) return { callee: dotted[1]!.replace(/\s+/g, '') };
  }
  const fn = call.childForFieldName('function');
  if (!fn) return { callee: null };
  const text = source.slice(fn.startIndex, fn.endIndex);
  if (DOTTED.test(text)) return { callee: text.replace(/\s+/g, '') };
  const sup = SUPER.exec(text);
  if (sup) return { callee: sup[1] ? `super(${sup[1]}).${sup[2]}` : `super().${sup[2]}` };
  if (fn.type !== 'attribute') return { callee: null };
  const method = fn.childForFieldName('attribute')?.text;
  const receiver = fn.childForFieldName('object');
  if (!method) return { callee: null };
  return BUILTIN_VALUES.has(receiver?.type ?? '') ? { callee: null, method, builtinReceiver: true } : { callee: null, method };
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

/** Python's blanks. */
const BLANK = new Set([' ', '\t', '\f', '\r', '\n']);

/**
 * The line of the colon that ends a definition's header (the last one before its body).
 * Mostly only blanks lie between them; then it is found in the text, unless its line has a
 * `#` (a comment can end with a colon too).
 */
function signatureEnd(body: SyntaxNode, bodyStart: number, lines: LineIndex, source: string): number {
  let i = bodyStart - 1;
  while (i >= 0 && BLANK.has(source[i]!)) i--;
  if (source[i] === ':' && !source.slice(source.lastIndexOf('\n', i) + 1, i).includes('#')) return lines.rowOf(i) + 1;
  for (let child = body.previousSibling; child; child = child.previousSibling) {
    if (child.type === ':') return child.endPosition.row + 1;
  }
  return body.startPosition.row + 1;
}

/**
 * A definition's keywords and name, and for a function whose name a parenthesis follows, its
 * parameter list up to the first closing parenthesis: read where it starts (`async def f(a)`).
 */
const DEFINITION_HEAD = new RegExp(String.raw`(?:async\s+)?(?:def|class)\s+(${IDENT})(?=\s*[(:[])(?:\s*(\([^()]*\)))?`, 'uy');
/** A parameter list of plain names only (`(self, a, b)`): then the first closing parenthesis is its end. */
const PLAIN_PARAMETERS = new RegExp(String.raw`^\(\s*(?:${IDENT}\s*(?:,\s*${IDENT}\s*)*,?\s*)?\)$`, 'u');

/** The names a function's parameters bind: read from `head` if it is a list of plain names, from the tree otherwise. */
function parameterNames(node: SyntaxNode, head: string | undefined): string[] {
  if (head && PLAIN_PARAMETERS.test(head)) return head.slice(1, -1).split(',').map((p) => p.trim()).filter(Boolean);
  return boundNames(node.childForFieldName('parameters')!);
}

/** The definition `node`, which starts at `start`. */
function definitionOf(node: SyntaxNode, start: number, lines: LineIndex, source: string, module: string, file: string, parent: Definition | null): Definition {
  DEFINITION_HEAD.lastIndex = start;
  const head = DEFINITION_HEAD.exec(source);
  const name = head?.[1] ?? node.childForFieldName('name')!.text;
  const body = node.childForFieldName('body')!;
  const bodySpan = textSpan(body);
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
    signature: { start: node.startPosition.row + 1, end: signatureEnd(body, bodySpan.startIndex, lines, source) },
    body: bodySpan,
    docstring: findDocstring(body, source),
    calls: [],
    locals: isClass ? [] : parameterNames(node, head?.[2]),
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
  const moduleStart = moduleNode.startIndex;
  let from = moduleNode.text;
  const relative = moduleNode.type === 'relative_import';
  if (relative) {
    const prefix = moduleNode.namedChildren.find((c) => c.type === 'import_prefix')?.text ?? '.';
    const rest = moduleNode.namedChildren.find((c) => c.type === 'dotted_name')?.text ?? '';
    from = resolveRelative(prefix.length, rest, module, isPackage);
  }
  const extra = relative ? { relative } : {};
  for (const child of node.namedChildren) {
    // By position: the binding may hand out two objects for one node.
    if (child.startIndex === moduleStart) continue;
    if (child.type === 'dotted_name') {
      const name = child.text;
      out.push({ local: name, target: `${from}.${name}`, kind: 'from', from, name, ...extra });
    } else if (child.type === 'aliased_import') {
      const name = child.childForFieldName('name')!.text;
      out.push({ local: child.childForFieldName('alias')!.text, target: `${from}.${name}`, kind: 'from', from, name, ...extra });
    } else if (child.type === 'wildcard_import') {
      out.push({ local: '*', target: from, kind: 'star', from, ...extra });
    }
  }
  return out;
}

/** An assignment to one name (`x = …`, `x: T = …`, `x += …`), read where the assignment starts. */
const NAME_ASSIGNED = new RegExp(String.raw`(${IDENT})\s*(?:=(?!=)|:|[-+*/%&|^@]=|//=|\*\*=|>>=|<<=)`, 'uy');

/**
 * The names a binding node binds. The commonest, an assignment to one name, is read from the
 * text, without asking the tree for the target.
 */
function namesBoundBy(node: SyntaxNode, start: number, source: string): string[] {
  if (node.type === 'assignment' || node.type === 'augmented_assignment') {
    NAME_ASSIGNED.lastIndex = start;
    const one = NAME_ASSIGNED.exec(source);
    if (one) return [one[1]!];
  }
  const target = bindingTarget(node);
  return target ? boundNames(target) : [];
}

/**
 * Names bound in a function body (or in a lambda or comprehension inside it) are its locals;
 * class bodies are not scopes that functions see.
 */
function bindLocals(current: Definition | null, node: SyntaxNode, start: number, source: string): void {
  if (!current || current.kind === 'class' || start < current.body.startIndex) return;
  for (const local of namesBoundBy(node, start, source)) if (!current.locals.includes(local)) current.locals.push(local);
}

export type ModuleResult = { analysis: ModuleAnalysis } | { error: string };

export type FileAnswer = { file: string; bytes: number } & ModuleResult;

/** A file's text read ahead of its analysis, or the reason it could not be read. */
export async function readAhead(root: string, file: string): Promise<{ file: string; source: string } | FileAnswer> {
  try {
    return { file, source: await readFile(join(root, file), 'utf8') };
  } catch (err) {
    return { file, bytes: 0, error: `unreadable: ${(err as Error).message}` };
  }
}

export function analyzeSource(file: string, source: string): FileAnswer {
  return { file, bytes: Buffer.byteLength(source), ...analyzeModule(file, source) };
}

/** Reads and analyses one file of a repository; an unreadable file is reported, not thrown. */
export async function analyzeFile(root: string, file: string): Promise<FileAnswer> {
  const read = await readAhead(root, file);
  return 'source' in read ? analyzeSource(read.file, read.source) : read;
}

/** `parsed`, when given, must be tree-sitter's parse of exactly `source` (it saves a parse). */
export function analyzeModule(file: string, source: string, parsed: ParseResult = parsePython(source)): ModuleResult {
  if ('error' in parsed) return parsed;
  const root = parsed.tree.rootNode;
  const { module, isPackage } = moduleName(file);
  const definitions: Definition[] = [];
  const imports: ImportBinding[] = [];
  // Open definitions and lambdas, innermost last; nodes arrive in document order.
  const open: { end: number; def: Definition }[] = [];
  const lambdas: number[] = [];
  const assigned = new Set<string>();
  const nodes = root.descendantsOfType(STRUCTURE);
  const starts = nodes.map((node) => node.startIndex);
  const lines = new LineIndex(source);
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i]!;
    const start = starts[i]!;
    while (open.length && open[open.length - 1]!.end <= start) open.pop();
    while (lambdas.length && lambdas[lambdas.length - 1]! <= start) lambdas.pop();
    const current = open[open.length - 1]?.def ?? null;
    const type = node.type;
    if (type === 'call') {
      // A call in a definition's default values runs in the enclosing scope, not the body.
      const owner = current && start < current.body.startIndex ? (open[open.length - 2]?.def ?? null) : current;
      const alone = starts[i + 1] !== start;
      owner?.calls.push({ line: lines.rowOf(start) + 1, ...calleeOf(node, start, alone, source), inLambda: lambdas.length > 0 });
    } else if (type === 'function_definition' || type === 'class_definition') {
      const def = definitionOf(node, start, lines, source, module, file, current);
      definitions.push(def);
      open.push({ end: node.endIndex, def });
    } else if (type === 'import_statement' || type === 'import_from_statement') {
      imports.push(...importsOf(node, module, isPackage));
    } else if (type === 'lambda') {
      lambdas.push(node.endIndex);
      bindLocals(current, node, start, source);
    } else if (current) {
      bindLocals(current, node, start, source);
    } else if (type !== 'for_in_clause') {
      // Module level, in any block (`if`, `try`, `for`, `with`): a name bound there to a
      // value the analysis does not follow. A comprehension's variable stays inside it.
      for (const name of namesBoundBy(node, start, source)) assigned.add(name);
    }
  }
  return {
    analysis: { file, module, isPackage, definitions, imports, assigned: [...assigned], docstring: findDocstring(root, source) },
  };
}
