/** Docstrings: finding them in a body, their value, and whether they are real prose. */
import type { SyntaxNode } from './parse.js';
import type { Docstring, TextSpan } from './types.js';

export function textSpan(node: SyntaxNode): TextSpan {
  return {
    start: node.startPosition.row + 1,
    end: node.endPosition.row + 1,
    startIndex: node.startIndex,
    endIndex: node.endIndex,
  };
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '\n': '' };

/** The value of a (non-f, non-bytes) string literal; escapes beyond the common ones are kept as written. */
export function literalValue(raw: string): string | null {
  const m = /^([rRuU]{0,2})('''|"""|'|")([\s\S]*)\2$/.exec(raw);
  if (!m) return null;
  const [, prefix = '', , body = ''] = m;
  if (/[rR]/.test(prefix)) return body;
  return body.replace(/\\([ntr\\'"\n])/g, (_, c: string) => ESCAPES[c] ?? c);
}

/** inspect.cleandoc: strip the first line, dedent the rest by their common indent, trim blank ends. */
export function cleandoc(value: string): string {
  const lines = value.replace(/\t/g, '        ').split('\n');
  let indent = Infinity;
  for (const line of lines.slice(1)) {
    const stripped = line.trimStart();
    if (stripped) indent = Math.min(indent, line.length - stripped.length);
  }
  const out = [lines[0]!.trimStart(), ...lines.slice(1).map((l) => (indent === Infinity ? l : l.slice(indent)))];
  while (out.length && !out[0]!.trim()) out.shift();
  while (out.length && !out[out.length - 1]!.trim()) out.pop();
  return out.join('\n');
}

function isStringStatement(node: SyntaxNode | null): node is SyntaxNode {
  if (!node || node.type !== 'expression_statement' || node.namedChildCount !== 1) return false;
  const child = node.firstNamedChild!;
  if (child.type !== 'string') return false;
  // f-strings hold interpolations; bytes are not docstrings.
  const prefix = /^[a-zA-Z]*/.exec(child.text)![0];
  return !/[fFbB]/.test(prefix);
}

/** The first statement of a body at or after `from` (comments are not statements). */
function statementFrom(from: SyntaxNode | null): SyntaxNode | null {
  // Sibling steps, not namedChildren: a long body would otherwise be copied out whole.
  let child = from;
  while (child && child.type === 'comment') child = child.nextNamedSibling;
  return child;
}

/** A character that begins a statement but never a string or a comment. */
const NO_STRING_START = /(?![rRuUbBfF]{0,2}['"])[\p{L}\p{N}_@([{.+\-~*]/uy;

/** The docstring of a body (a `block`, or the module root), if its first statement is a string literal. */
export function findDocstring(block: SyntaxNode, source: string): Docstring | null {
  // Most bodies open with something else, which their first character tells without asking the tree.
  NO_STRING_START.lastIndex = block.startIndex;
  if (NO_STRING_START.test(source)) return null;
  const first = statementFrom(block.firstNamedChild);
  if (!isStringStatement(first)) return null;
  const raw = first.firstNamedChild!.text;
  const value = literalValue(raw);
  if (value === null) return null;
  const span = textSpan(first);
  const lineStart = source.lastIndexOf('\n', span.startIndex - 1) + 1;
  let lineEnd = source.indexOf('\n', span.endIndex);
  if (lineEnd < 0) lineEnd = source.length;
  const ownLines = !source.slice(lineStart, span.startIndex).trim() && !source.slice(span.endIndex, lineEnd).trim();
  // The statement after it is looked for only now: most bodies have no docstring.
  const second = statementFrom(first.nextNamedSibling);
  return { span, raw, text: cleandoc(value), ownLines, hasFollowingStatements: second !== null, nextIsString: isStringStatement(second) };
}

/**
 * A real docstring has at least one line of prose: a sentence of three or more words
 * with letters, not a placeholder like "TODO", "..." or a bare name.
 */
export function isRealDocstring(text: string): boolean {
  const first = text.split('\n').find((l) => l.trim()) ?? '';
  const words = first.trim().split(/\s+/).filter((w) => /[A-Za-z]{2,}/.test(w));
  if (words.length < 3) return false;
  return !/^(todo|fixme|xxx|tbd|deprecated\.?|see\b|docstring\b|no\s+doc|placeholder|:)/i.test(first.trim());
}
