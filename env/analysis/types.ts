/** What the analysis knows about a Python repository snapshot. Lines are 1-based, inclusive. */

export interface LineSpan {
  start: number;
  end: number;
}

/** A span of source text: lines for people, string offsets (UTF-16, as JS indexes) for edits. */
export interface TextSpan extends LineSpan {
  startIndex: number;
  endIndex: number;
}

export interface Docstring {
  /** The whole expression statement holding the string literal. */
  span: TextSpan;
  /** The literal as written, prefix and quotes included. */
  raw: string;
  /** Its value, cleaned like inspect.cleandoc. */
  text: string;
  /** The statement stands on lines of its own (nothing else on its first or last line). */
  ownLines: boolean;
  /** Other statements follow it in the body. */
  hasFollowingStatements: boolean;
  /** The next statement is a string literal too (it would become the docstring without this one). */
  nextIsString: boolean;
}

export type DefinitionKind = 'function' | 'method' | 'class';

export interface CallSite {
  line: number;
  /**
   * The callee as a dotted path (`f`, `mod.f`, `self.m`, `Cls`), as `super().m`, or as
   * `super(Cls).m` for `super(Cls, self).m`; null for any other expression.
   */
  callee: string | null;
  /** For a method called on some other expression (`f().m()`, `x[0].m()`, `"".join()`): its name. */
  method?: string;
  /** That expression is a literal, a display or a comprehension: its type is built in. */
  builtinReceiver?: boolean;
  /** The call is inside a lambda (still counted for the enclosing definition). */
  inLambda: boolean;
}

export interface Definition {
  kind: DefinitionKind;
  name: string;
  /** Dotted within the module: `Class.method`, `outer.inner`. */
  qualname: string;
  /** Dotted path of the file from the repository root (`src.pkg.mod`), whatever its import roots. */
  module: string;
  /** Path relative to the repository root. */
  file: string;
  /** From the first decorator (if any) to the end of the body. */
  span: TextSpan;
  /** The `def`/`class` line. */
  defLine: number;
  decorators: LineSpan | null;
  /** From `def`/`class` to the colon that opens the body. */
  signature: LineSpan;
  body: TextSpan;
  docstring: Docstring | null;
  /** Calls in the body, excluding those inside nested definitions. */
  calls: CallSite[];
  /**
   * For functions and methods: the names bound in their own scope (parameters, assignment,
   * loop, `with`/`except` targets, and those of lambdas and comprehensions inside), which
   * hide the same names of the module.
   */
  locals: string[];
  /** Qualname of the enclosing definition, or null at module level. */
  parent: string | null;
  /** For classes: the base class expressions as written. */
  bases: string[];
}

export interface ImportBinding {
  /** The name bound in the importing module (`*` for a star import). */
  local: string;
  /** Dotted target: a module (`import a.b as c`) or module + name (`from a import b`). */
  target: string;
  /**
   * `import x`: the target is a module. `from x import y`: module `from`, name `name`.
   * `from x import *`: every public name of module `from`.
   */
  kind: 'module' | 'from' | 'star';
  from?: string;
  name?: string;
  /**
   * A relative import, already resolved against the importing file's path (a module name
   * from the repository root). Absolute imports are resolved against the import roots.
   */
  relative?: boolean;
}

export interface ModuleAnalysis {
  file: string;
  module: string;
  isPackage: boolean;
  definitions: Definition[];
  imports: ImportBinding[];
  /** Names assigned at module level (not definitions or imports), to stop resolution there. */
  assigned: string[];
  docstring: Docstring | null;
}

export interface SkippedFile {
  file: string;
  reason: string;
}
