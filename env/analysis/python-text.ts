/**
 * A Python file as CPython 3.11 reads it. tree-sitter and Python can disagree about what a
 * file says: Python ends a line at a lone carriage return where tree-sitter's comment runs
 * on, decodes the file through its coding declaration (in UTF-7, `+AAo-` is a newline), takes
 * a tab after spaces to the next tab stop, refuses an empty block. A grader that reads code
 * off tree-sitter's parse must parse the text Python tokenizes, and must not trust the parse
 * wherever the two still differ: otherwise code hides where the grader sees a comment.
 */
import { parsePython, type ParseResult, type Tree } from './parse.js';

export interface PythonReading {
  /** The text Python tokenizes: the byte-order mark dropped, every CRLF and lone CR a LF. */
  text: string;
  /** tree-sitter's parse of `text`. */
  parsed: ParseResult;
  /** Why the parse cannot stand for what Python reads; null when it can. */
  distrust: string | null;
}

/** The text Python tokenizes of `source`: the byte-order mark dropped, every CRLF and lone CR a LF. */
export function pythonText(source: string): string {
  return (source.startsWith('\uFEFF') ? source.slice(1) : source).replace(/\r\n?/g, '\n');
}

/** `timeoutMicros` bounds the parse (see parsePython). */
export function readAsPython(source: string, timeoutMicros?: number): PythonReading {
  const text = pythonText(source);
  const parsed = parsePython(text, timeoutMicros);
  return { text, parsed, distrust: pythonDistrust(source, text, parsed) };
}

/** Why `parsed`, tree-sitter's parse of `text` (pythonText of `source`), cannot stand for what Python reads; null when it can. */
export function pythonDistrust(source: string, text: string, parsed: ParseResult): string | null {
  const bom = source.startsWith('\uFEFF');
  return decodingDistrust(bom ? source.slice(1) : source, bom) ?? ('tree' in parsed ? structureDistrust(parsed.tree, text) : null);
}

/** Codecs (by Python's normalised name) that decode any UTF-8 text to itself. */
export const UTF8_CODECS: ReadonlySet<string> = new Set(['utf_8', 'utf8', 'u8', 'utf', 'cp65001', 'utf8_ucs2', 'utf8_ucs4']);
/** Codecs that decode ASCII bytes to the same characters (not UTF-7, UTF-16, the escape codecs or EBCDIC). */
export const ASCII_CODECS: ReadonlySet<string> = new Set([
  'ascii', 'us_ascii', '646', 'latin_1', 'latin1', 'latin', 'l1', 'iso_8859_1', 'iso8859_1', '8859', 'cp819',
  'iso_8859_2', 'iso8859_2', 'latin2', 'iso_8859_15', 'iso8859_15', 'latin9', 'l9',
  'cp1250', 'cp1251', 'cp1252', 'windows_1250', 'windows_1251', 'windows_1252', 'koi8_r', 'koi8_u',
]);

/**
 * The coding Python takes from line 1, or line 2 after a blank or comment line 1 (lines end
 * at CR, LF or CRLF: Python translates line ends before it looks). A superset of Python's
 * rule is safe here: a declaration found needlessly only costs trust.
 */
export function declaredCoding(text: string): string | null {
  for (const line of text.split(/\r\n|\r|\n/, 2)) {
    // [^]: a JavaScript `.` stops at U+2028 and U+2029, where Python's byte scan goes on.
    const m = /^[ \t\f]*#[^]*?coding[:=][ \t]*([-\w.]+)/.exec(line);
    if (m) return m[1]!;
    if (!/^[ \t\f]*(?:#|$)/.test(line)) return null;
  }
  return null;
}

/** A declared coding as Python's codec registry looks it up (after the tokenizer's own utf-8 and latin-1 spellings). */
export function codecName(coding: string): string {
  const head = coding.slice(0, 12).toLowerCase().replace(/_/g, '-');
  if (head === 'utf-8' || head.startsWith('utf-8-')) return 'utf_8';
  if (/^(?:latin-1|iso-8859-1|iso-latin-1)(?:-|$)/.test(head)) return 'latin_1';
  return coding.toLowerCase().split(/[^a-z0-9.]+/).filter(Boolean).join('_');
}

function decodingDistrust(text: string, bom: boolean): string | null {
  if (text.includes('\0')) return 'it holds a NUL character, which Python refuses';
  const coding = declaredCoding(text);
  if (coding === null) return null;
  const codec = codecName(coding);
  if (UTF8_CODECS.has(codec)) return null;
  if (bom) return `it has a UTF-8 byte-order mark and declares the coding ${coding}, which Python refuses`;
  if (ASCII_CODECS.has(codec) && !NON_ASCII.test(text)) return null;
  return `it declares the coding ${coding}, in which Python decodes it to other text than UTF-8 gives`;
}

const NON_ASCII = /[\u0080-\uffff]/;
const VALID_PREFIX = /^(?:|r|u|b|br|rb|f|fr|rf)$/;
const OPEN = new Set(['(', '[', '{']);
const CLOSE = new Set([')', ']', '}']);
/** The nodes whose children may lie on different logical lines: a statement can end only between their children. */
const LINE_PARENTS: ReadonlySet<string> = new Set([
  'module', 'block', 'decorated_definition', 'function_definition', 'class_definition', 'if_statement', 'for_statement',
  'while_statement', 'try_statement', 'with_statement', 'match_statement', 'elif_clause', 'else_clause', 'except_clause',
  'except_group_clause', 'finally_clause', 'case_clause',
]);
const UNKNOWN = -1;

/**
 * Between tokens Python skips only spaces, tabs, form feeds, newlines and backslash
 * continuations. The index of the gap's last line end that is not a continuation (-1 when
 * there is none), or -2 - i when text[i] is none of those.
 */
function scanGap(text: string, from: number, to: number): number {
  let newline = -1;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) newline = i;
    else if (c === 92 && i + 1 < to && text.charCodeAt(i + 1) === 10) i++;
    else if (c !== 32 && c !== 9 && c !== 12) return -2 - i;
  }
  return newline;
}

/**
 * Walks tree-sitter's tokens as Python's tokenizer would meet them, and names the first place
 * the two part: whitespace Python refuses, a comment or string literal that Python ends
 * elsewhere, indentation Python measures otherwise or refuses (TabError, a dedent to no
 * outer level), a block or logical line that tree-sitter opens or ends where Python does not.
 */
function structureDistrust(tree: Tree, text: string): string | null {
  const cursor = tree.walk();
  // The path to the cursor's node: types, and for blocks whether their statements start on
  // a line of their own (Python's INDENT), known at the block's first token.
  const types = [cursor.nodeType];
  const indented = [UNKNOWN];
  const cols = [0];
  const alts = [0];
  let prevEnd = 0;
  let tokens = 0;
  let level = 0;
  // The lowest path index replaced since the last token: its parent is the last token's common ancestor with the next.
  let shared = 0;
  // Problems are found at the cursor's leaf.
  const here = () => `line ${cursor.startPosition.row + 1}`;

  /** Python's indentation of a logical line starting at `start`, checked against tree-sitter's. */
  const indentation = (from: number, start: number): string | null => {
    let col = 0;
    let alt = 0;
    let ts = 0;
    for (let i = from; i < start; i++) {
      const c = text.charCodeAt(i);
      if (c === 12) col = alt = ts = 0;
      else if (c === 9) [col, alt, ts] = [(Math.floor(col / 8) + 1) * 8, alt + 1, ts + 8];
      else if (c === 32) [col, alt, ts] = [col + 1, alt + 1, ts + 1];
      else return `a backslash continuation inside the indentation of ${here()}`;
    }
    if (ts !== col) return `a tab after spaces in the indentation of ${here()}, which Python measures to the next tab stop`;
    if (col > cols[cols.length - 1]!) {
      if (alt <= alts[alts.length - 1]!) return `inconsistent tabs and spaces in the indentation of ${here()} (Python's TabError)`;
      cols.push(col);
      alts.push(alt);
    } else {
      while (cols.length > 1 && col < cols[cols.length - 1]!) {
        cols.pop();
        alts.pop();
      }
      if (col !== cols[cols.length - 1]!) return `a dedent to no outer indentation level at ${here()}`;
      if (alt !== alts[alts.length - 1]!) return `inconsistent tabs and spaces in the indentation of ${here()} (Python's TabError)`;
    }
    let depth = 0;
    for (let i = 0; i < types.length; i++) if (indented[i] === 1 && types[i] === 'block') depth++;
    return depth === cols.length - 1 ? null : `${here()} is indented ${cols.length - 1} levels for Python but in ${depth} blocks of the parse`;
  };

  const leaf = (type: string, start: number, end: number): string | null => {
    if (type === 'line_continuation') return null;
    const from = prevEnd;
    const gap = scanGap(text, from, start);
    if (gap < -1) return `U+${text.codePointAt(-2 - gap)!.toString(16).toUpperCase().padStart(4, '0')} before ${here()}, where Python takes no such whitespace`;
    prevEnd = end;
    if (type === 'comment') return end === text.length || text[end] === '\n' ? null : `a comment at ${here()} that Python reads to the end of the line`;
    if (type === 'block') return `an empty block at ${here()}, which Python refuses`;
    if (type === 'string') {
      const problem = stringDistrust(text, start, end, () => cursor.currentNode.descendantsOfType('comment').length > 0);
      if (problem) return `${problem} at ${here()}`;
    }
    const bol = tokens++ === 0 || gap >= 0;
    for (let i = shared; i < types.length; i++) if (indented[i] === UNKNOWN && types[i] === 'block') indented[i] = bol ? 1 : 0;
    const parent = types[shared - 1];
    shared = types.length;
    if (bol && level === 0) {
      const problem = indentation(gap >= 0 ? gap + 1 : from, start);
      if (problem) return problem;
      if (parent !== undefined && !LINE_PARENTS.has(parent)) return `a logical line ends before ${here()} for Python but not in the parse`;
    }
    if (OPEN.has(type)) level++;
    else if (CLOSE.has(type) && level > 0) level--;
    return null;
  };

  for (;;) {
    const type = types[types.length - 1]!;
    if (type !== 'string' && cursor.gotoFirstChild()) {
      types.push(cursor.nodeType);
      indented.push(UNKNOWN);
      continue;
    }
    if (types.length > 1) {
      const problem = leaf(type, cursor.startIndex, cursor.endIndex);
      if (problem) return problem;
    }
    for (;;) {
      if (cursor.gotoNextSibling()) {
        types[types.length - 1] = cursor.nodeType;
        indented[indented.length - 1] = UNKNOWN;
        shared = Math.min(shared, types.length - 1);
        break;
      }
      if (!cursor.gotoParent()) return scanGap(text, prevEnd, text.length) < -1 ? 'a character after the last token that Python does not skip as whitespace' : null;
      types.pop();
      indented.pop();
    }
  }
}

/** Escapes Python checks when it compiles a literal; tree-sitter takes a malformed one for plain content. */
const ESCAPES: Readonly<Record<string, RegExp>> = {
  x: /x[0-9a-fA-F]{2}/y,
  u: /u[0-9a-fA-F]{4}/y,
  U: /U(?:000[0-9a-fA-F]|0010)[0-9a-fA-F]{4}/y,
  N: /N\{[A-Za-z0-9 -]+\}/y,
};

/**
 * A string literal as Python 3.11's tokenizer reads it: a prefix it knows, and an end at the
 * first closing quote not escaped by a backslash (raw or not, f-string or not: 3.11 does not
 * nest quotes inside replacement fields), on the same line unless triple-quoted; and escapes
 * its compiler accepts (a `\N{...}` name is not looked up).
 */
function stringDistrust(text: string, start: number, end: number, holdsComment: () => boolean): string | null {
  const open = /^([A-Za-z]*)('''|"""|'|")?/.exec(text.slice(start, Math.min(end, start + 6)))!;
  const prefix = open[1]!.toLowerCase();
  const quote = open[2];
  if (!VALID_PREFIX.test(prefix) || !quote) return `a string literal Python does not know (${open[0]})`;
  if (prefix.includes('f') && text.slice(start, end).includes('#') && holdsComment()) return 'a comment inside an f-string, which Python 3.11 refuses';
  const raw = prefix.includes('r');
  const bytes = prefix.includes('b');
  let i = start + open[0].length;
  for (;;) {
    if (i >= text.length) return 'a string literal Python does not end';
    const c = text[i]!;
    if (c === '\\') {
      const escape = raw ? undefined : ESCAPES[text[i + 1]!];
      if (escape && (!bytes || escape === ESCAPES.x)) {
        escape.lastIndex = i + 1;
        if (!escape.test(text)) return `a \\${text[i + 1]} escape Python refuses`;
      }
      i += 2;
    } else if (quote.length === 3 ? text.startsWith(quote, i) : c === quote) break;
    else if (c === '\n' && quote.length === 1) return 'a string literal Python ends at the line end';
    else i++;
  }
  if (i + quote.length !== end) return 'a string literal that Python ends elsewhere';
  if (bytes && NON_ASCII.test(text.slice(start, end))) return 'a bytes literal with a non-ASCII character, which Python refuses';
  return null;
}
