/** Analysis of a whole repository snapshot: every Python file, then one resolution index. */
import { availableParallelism } from 'node:os';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { analyzeSource, readAhead, type FileAnswer } from './module.js';
import { analyzeOnWorkers } from './pool.js';
import { RepoIndex } from './resolve.js';
import { declaredRoots, importRoots } from './roots.js';
import type { ModuleAnalysis, SkippedFile } from './types.js';

const SKIP_DIRS = new Set(['.git', '.hg', '.svn', '__pycache__', 'node_modules', '.tox', '.venv', 'venv', 'build', 'dist']);

export interface RepoAnalysis {
  root: string;
  /** The directories the repository's own modules are imported from (see roots.ts). */
  importRoots: string[];
  modules: ModuleAnalysis[];
  index: RepoIndex;
  skipped: SkippedFile[];
  stats: { files: number; bytes: number; ms: number };
}

/** Python files under root, relative, sorted (so every run sees them in the same order). */
export async function pythonFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string): Promise<void> {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const e of entries) {
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name) && !e.name.startsWith('.')) await walk(join(dir, e.name));
      } else if (e.isFile() && e.name.endsWith('.py')) {
        out.push(relative(root, join(dir, e.name)).split('\\').join('/'));
      }
    }
  }
  await walk(root);
  return out.sort();
}

/** Tiny repositories are analysed in-process: handing files to workers would cost more. */
const IN_PROCESS_BELOW = 8;

/** How many threads parse at once: one per core, at most four. */
export function analysisThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

/**
 * `files` largest first (an unreadable one counts as empty): the workers then finish a
 * repository together, on small files, instead of one of them alone on a large one.
 */
async function largestFirst(root: string, files: string[]): Promise<string[]> {
  const sizes = await Promise.all(files.map((file) => stat(join(root, file)).then((s) => s.size, () => 0)));
  return files.map((file, i) => ({ file, size: sizes[i]! })).sort((a, b) => b.size - a.size).map((f) => f.file);
}

async function analyzeFiles(root: string, files: string[], threads: number, onAnswer: (a: FileAnswer) => void): Promise<void> {
  if (threads > 1 && files.length >= IN_PROCESS_BELOW) return analyzeOnWorkers(root, await largestFirst(root, files), threads, onAnswer);
  // In-process: reads run a few files ahead of parsing.
  const reads: ReturnType<typeof readAhead>[] = [];
  const AHEAD = 8;
  for (let i = 0; i < Math.min(AHEAD, files.length); i++) reads.push(readAhead(root, files[i]!));
  for (let i = 0; i < files.length; i++) {
    if (i + AHEAD < files.length) reads.push(readAhead(root, files[i + AHEAD]!));
    const read = await reads[i]!;
    onAnswer('source' in read ? analyzeSource(read.file, read.source) : read);
  }
}

export async function analyzeRepo(
  root: string,
  options: { threads?: number; onFile?: (done: number, total: number, bytes: number) => void } = {},
): Promise<RepoAnalysis> {
  const started = performance.now();
  const files = await pythonFiles(root);
  const results = new Map<string, FileAnswer>();
  let bytes = 0;
  await analyzeFiles(root, files, options.threads ?? analysisThreads(), (a) => {
    results.set(a.file, a);
    bytes += a.bytes;
    options.onFile?.(results.size, files.length, bytes);
  });
  const modules: ModuleAnalysis[] = [];
  const skipped: SkippedFile[] = [];
  // In file order, whatever order the workers answered in: results are reproducible.
  for (const file of files) {
    const a = results.get(file)!;
    if ('error' in a) skipped.push({ file, reason: a.error });
    else modules.push(a.analysis);
  }
  const roots = importRoots(files, await declaredRoots(root));
  return { root, importRoots: roots, modules, index: new RepoIndex(modules, roots), skipped, stats: { files: files.length, bytes, ms: performance.now() - started } };
}

/** The text of a repository file (definitions carry offsets into it). */
export function readSource(root: string, file: string): Promise<string> {
  return readFile(join(root, file), 'utf8');
}
