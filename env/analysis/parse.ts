/** One tree-sitter parser for Python, with the bounds every parse in hgym goes through. */
import Parser from 'tree-sitter';
import Python from 'tree-sitter-python';

export type SyntaxNode = Parser.SyntaxNode;
export type Tree = Parser.Tree;

/** Larger files are skipped: generated tables, vendored bundles. */
export const MAX_FILE_CHARS = 1_000_000;
/** A parse that takes longer is abandoned (pathological input). */
export const PARSE_TIMEOUT_MICROS = 5_000_000;

const language = Python as unknown as Parser.Language;
let parser: Parser | null = null;

function getParser(): Parser {
  if (!parser) {
    parser = new Parser();
    parser.setLanguage(language);
  }
  return parser;
}

export type ParseResult = { tree: Tree } | { error: string; timedOut?: true };

/**
 * Parses Python source; files too large, unparseable or with syntax errors are reported, not
 * thrown. tree-sitter's time is not linear in every input (a run of comment lines after an
 * indented block costs the square of its length), and a parse blocks the event loop: callers
 * parsing what an agent wrote pass a tighter `timeoutMicros`.
 */
export function parsePython(source: string, timeoutMicros = PARSE_TIMEOUT_MICROS): ParseResult {
  if (source.length > MAX_FILE_CHARS) return { error: `larger than ${MAX_FILE_CHARS} characters` };
  let tree: Tree | undefined;
  try {
    getParser().setTimeoutMicros(Math.max(1, Math.round(timeoutMicros)));
    // A string input (not a callback) lets node.text slice the source instead of calling
    // back for it; the buffer must hold the whole file.
    tree = getParser().parse(source, undefined, { bufferSize: source.length * 2 + 1024 });
  } catch (err) {
    return { error: `parse failed: ${(err as Error).message}` };
  }
  if (!tree) {
    // A parse that timed out is resumed by the parser's next parse, whatever its input, unless reset.
    getParser().reset();
    return { error: `parse took longer than ${Math.round(timeoutMicros / 1000)} ms`, timedOut: true };
  }
  if (tree.rootNode.hasError) return { error: `syntax error near line ${firstErrorLine(tree.rootNode)}` };
  return { tree };
}

/** The line of the first ERROR node or MISSING token (a missing token has the type it lacks, not MISSING). */
function firstErrorLine(root: SyntaxNode): number {
  let node = root;
  // Down the first child that holds an error; each step goes one level deeper.
  while (!node.isError && !node.isMissing) {
    const next = node.children.find((c) => c.hasError || c.isMissing);
    if (!next) break;
    node = next;
  }
  return node.startPosition.row + 1;
}

export function query(source: string): Parser.Query {
  return new Parser.Query(language, source);
}
