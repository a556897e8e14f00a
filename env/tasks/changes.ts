/**
 * What an episode changed in its workspace: the sandbox's digest of the final tree against
 * the prepared workspace's. Read through the sandbox's own file operations, never through
 * the agent's shell (whose functions and PATH the agent controls), and never through the
 * workspace's git metadata (which the agent may rewrite).
 */
import { MAX_FILE_CHARS } from '../analysis/parse.js';
import { SandboxFileError, type Sandbox } from '../sandbox.js';

export interface ModifiedFile {
  path: string;
  /** Text before the episode, or null for a binary file. */
  before: string | null;
  /** Text after, or null when unreadable as text (binary, a symlink, too large) or not a Python file. */
  after: string | null;
  /** Why `after` was not read, when that was the grader's choice. */
  unread?: string;
}

export interface Changes {
  modified: ModifiedFile[];
  deleted: string[];
  added: string[];
}

/** The workspace as given to the agent: file hashes, and the text of any file on demand. */
export interface WorkspaceBaseline {
  files: ReadonlyMap<string, string>;
  read(path: string): Promise<string | null>;
}

/**
 * A changed file larger than this cannot be parsed (MAX_FILE_CHARS characters take at most 4
 * bytes each), so it is not read: it is a changed file all the same.
 */
const MAX_TEXT_BYTES = 4 * MAX_FILE_CHARS;
/** What one grading reads of changed files in all: past it, a changed file is not read (still changed). */
const MAX_TOTAL_TEXT_BYTES = 64 * 2 ** 20;

export async function collectChanges(sandbox: Sandbox, root: string, baseline: WorkspaceBaseline): Promise<Changes> {
  const digest = await sandbox.digest(root);
  const after = new Map(digest.entries.map((e) => [e.path, e]));
  const modified: ModifiedFile[] = [];
  const deleted: string[] = [];
  let budget = MAX_TOTAL_TEXT_BYTES;
  for (const [path, sha] of baseline.files) {
    const now = after.get(path);
    if (!now) deleted.push(path);
    else if (now.kind !== 'file' || now.sha256 !== sha) {
      let text: string | null = null;
      let unread: string | undefined;
      // Graders read only Python files; any other file changed is a code change whatever it holds.
      const python = now.kind === 'file' && path.endsWith('.py');
      if (python && now.size > MAX_TEXT_BYTES) unread = `larger than ${MAX_TEXT_BYTES} bytes, more than a grader parses`;
      else if (python && now.size > budget) unread = `not read: the changed files hold more than the ${MAX_TOTAL_TEXT_BYTES} bytes a grading reads`;
      else if (python) {
        budget -= now.size;
        const read = await sandbox.readFile(`${root}/${path}`, { maxBytes: MAX_TEXT_BYTES, noFollow: true }).catch((error: unknown) => {
          // A file the agent made unreadable is a changed file, graded, never an error.
          if (error instanceof SandboxFileError) return null;
          throw error;
        });
        text = read?.kind === 'file' && typeof read.text === 'string' ? read.text : null;
      }
      modified.push({ path, before: await baseline.read(path), after: text, ...(unread ? { unread } : {}) });
    }
  }
  const added = digest.entries.filter((e) => !baseline.files.has(e.path)).map((e) => e.path);
  return { modified, deleted, added };
}
