/**
 * An episode of a task instance on a MemorySandbox: the workspace prepared from a snapshot
 * (the instance's edits applied), loaded under /workspace/<name>, with the agent's tools and
 * what the grader would see at the end.
 */
import { snapshotOf } from '../../env/corpus/snapshot.js';
import { prepareWorkspace, type PreparedWorkspace } from '../../env/corpus/workspace.js';
import { collectChanges, type Changes } from '../../env/tasks/changes.js';
import type { Observation } from '../../env/tools/observation.js';
import { ToolBox } from '../../env/tools/toolbox.js';
import type { Edit } from '../../schemas/tasks.js';
import { MemorySandbox } from './memory-sandbox.js';

export interface Episode {
  sandbox: MemorySandbox;
  toolbox: ToolBox;
  baseline: PreparedWorkspace;
  /** The repository in the sandbox: /workspace/<name>. */
  root: string;
  changes(): Promise<Changes>;
  /** A workspace file's text, by path relative to the repository root. */
  text(path: string): string;
  /** The editor's insert: `text` (a newline is added) after line `after` of `path`; throws when refused. */
  insert(path: string, after: number, text: string): Promise<Observation>;
  /** The editor's str_replace on `path`; throws when refused. */
  replace(path: string, oldStr: string, newStr: string): Promise<Observation>;
}

export async function startEpisode(
  instance: { instance_id: string; edits: readonly Edit[] },
  repoRoot: string,
  cacheDir: string,
  name = 'fixture',
): Promise<Episode> {
  const baseline = await prepareWorkspace(instance, await snapshotOf(repoRoot), cacheDir);
  const sandbox = new MemorySandbox();
  const root = `/workspace/${name}`;
  for (const path of baseline.files.keys()) sandbox.put(`${root}/${path}`, (await baseline.read(path))!);
  const toolbox = new ToolBox(sandbox);
  const edit = async (args: Record<string, unknown>): Promise<Observation> => {
    const obs = await toolbox.run({ tool: 'str_replace_editor', arguments: args });
    if (obs.invalid) throw new Error(`the editor refused ${JSON.stringify(args)}: ${obs.text}`);
    return obs;
  };
  return {
    sandbox,
    toolbox,
    baseline,
    root,
    changes: () => collectChanges(sandbox, root, baseline),
    text(path) {
      const content = sandbox.content(`${root}/${path}`);
      if (typeof content !== 'string') throw new Error(`no text file ${path} in the workspace`);
      return content;
    },
    insert: (path, after, text) => edit({ command: 'insert', path: `${root}/${path}`, insert_line: after, new_str: text }),
    replace: (path, oldStr, newStr) => edit({ command: 'str_replace', path: `${root}/${path}`, old_str: oldStr, new_str: newStr }),
  };
}
