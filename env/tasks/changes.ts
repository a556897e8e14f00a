/**
 * What an episode changed in its workspace: the sandbox's digest of the final tree against
 * the prepared workspace's. Read through the sandbox's own file operations, never through
 * the agent's shell (whose functions and PATH the agent controls), and never through the
 * workspace's git metadata (which the agent may rewrite).
 */
import { SandboxFileError, type Sandbox } from '../sandbox.js';

export interface ModifiedFile {
  path: string;
  /** Text before the episode, or null for a binary file. */
  before: string | null;
  /** Text after, or null when unreadable as text (binary, a symlink, too large). */
  after: string | null;
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

const MAX_TEXT_BYTES = 8 * 2 ** 20;

export async function collectChanges(sandbox: Sandbox, root: string, baseline: WorkspaceBaseline): Promise<Changes> {
  const digest = await sandbox.digest(root);
  const after = new Map(digest.entries.map((e) => [e.path, e]));
  const modified: ModifiedFile[] = [];
  const deleted: string[] = [];
  for (const [path, sha] of baseline.files) {
    const now = after.get(path);
    if (!now) deleted.push(path);
    else if (now.kind !== 'file' || now.sha256 !== sha) {
      let text: string | null = null;
      if (now.kind === 'file') {
        const read = await sandbox.readFile(`${root}/${path}`, { maxBytes: MAX_TEXT_BYTES, noFollow: true }).catch((error: unknown) => {
          // A file the agent made unreadable is a changed file, graded, never an error.
          if (error instanceof SandboxFileError) return null;
          throw error;
        });
        text = read?.kind === 'file' && typeof read.text === 'string' ? read.text : null;
      }
      modified.push({ path, before: await baseline.read(path), after: text });
    }
  }
  const added = digest.entries.filter((e) => !baseline.files.has(e.path)).map((e) => e.path);
  return { modified, deleted, added };
}
