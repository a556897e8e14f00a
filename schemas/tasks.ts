/**
 * JSON Schemas of task instance records: one JSON line each, one schema per family.
 * Paths are relative to the repository root; lines are 1-based in the workspace the agent
 * is given.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

export const RepoRef = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    /** Content hash of the snapshot the instance was generated from. */
    snapshot: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    license: Type.String(),
    version: Type.Optional(Type.String()),
    /** The folder under the corpus's repos/ holding this snapshot, when not the name (one per commit). */
    dir: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.@-]+$' })),
    /** Where the snapshot came from: a git URL or path and the commit. */
    origin: Type.Optional(Type.Object({ url: Type.String(), commit: Type.String() }, { additionalProperties: false })),
    /** The environment its tests run in (packages the repository needs), by id; absent: the sandbox image alone. */
    environment: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
  },
  { $id: 'hgym.task.repo', additionalProperties: false },
);

/** Lines start..end of a file replaced by text: how a task's change is applied to the snapshot. */
export const Edit = Type.Object(
  {
    file: Type.String({ minLength: 1 }),
    start: Type.Integer({ minimum: 1 }),
    end: Type.Integer({ minimum: 0 }),
    text: Type.String(),
  },
  { $id: 'hgym.task.edit', additionalProperties: false },
);
export type Edit = Static<typeof Edit>;

const common = {
  instance_id: Type.String({ pattern: '^[A-Za-z0-9_.-]+$' }),
  repo: RepoRef,
  instruction: Type.String({ minLength: 1 }),
  /** Applied to the snapshot, in order, to make the workspace. */
  edits: Type.Array(Edit),
  seed: Type.Optional(Type.Integer()),
};

const Location = Type.Object({ file: Type.String(), qualname: Type.String() }, { additionalProperties: false });

export const FuncLocalizeInstance = Type.Object(
  {
    ...common,
    task: Type.Literal('func_localize'),
    variant: Type.Union([Type.Literal('named'), Type.Literal('masked'), Type.Literal('multi')]),
    /** How the description was written: by rule from the removed docstring, or by a model. */
    description_source: Type.Union([Type.Literal('rule'), Type.Literal('model')]),
    gold: Type.Object(
      {
        targets: Type.Array(
          Type.Object(
            {
              file: Type.String(),
              qualname: Type.String(),
              /** The removed docstring's text. */
              docstring: Type.String(),
              /** The `def` line in the workspace. */
              line: Type.Integer({ minimum: 1 }),
              description: Type.String(),
            },
            { additionalProperties: false },
          ),
          { minItems: 1, maxItems: 3 },
        ),
      },
      { additionalProperties: false },
    ),
  },
  { $id: 'hgym.task.func_localize', additionalProperties: false },
);
export type FuncLocalizeInstance = Static<typeof FuncLocalizeInstance>;

export const DepSearchInstance = Type.Object(
  {
    ...common,
    task: Type.Literal('dep_search'),
    gold: Type.Object(
      {
        target: Location,
        /** The exact comment expected above each dependency. */
        comment: Type.String(),
        dependencies: Type.Array(
          Type.Object(
            {
              file: Type.String(),
              qualname: Type.String(),
              /** The `def`/`class` line. */
              line: Type.Integer({ minimum: 1 }),
              /** The first line of the definition: its first decorator, or the `def`/`class` line. */
              start: Type.Integer({ minimum: 1 }),
            },
            { additionalProperties: false },
          ),
          { minItems: 1 },
        ),
      },
      { additionalProperties: false },
    ),
  },
  { $id: 'hgym.task.dep_search', additionalProperties: false },
);
export type DepSearchInstance = Static<typeof DepSearchInstance>;

export const IssueLocalizeInstance = Type.Object(
  {
    ...common,
    task: Type.Literal('issue_localize'),
    /** swe: imported SWE-bench/SWE-Gym record; mined: a fix commit; injected: a mutation that fails tests. */
    source: Type.Union([Type.Literal('swe'), Type.Literal('mined'), Type.Literal('injected')]),
    /** The source's own id (SWE instance id, commit sha, mutation id). */
    source_id: Type.String(),
    issue: Type.String({ minLength: 1 }),
    gold: Type.Object(
      {
        files: Type.Array(Type.String(), { minItems: 1 }),
        functions: Type.Array(Location),
        /** Line ranges of the workspace that the fix changes (an insertion: the line it goes before). */
        lines: Type.Array(
          Type.Object({ file: Type.String(), start: Type.Integer({ minimum: 1 }), end: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
          { minItems: 1 },
        ),
      },
      { additionalProperties: false },
    ),
  },
  { $id: 'hgym.task.issue_localize', additionalProperties: false },
);
export type IssueLocalizeInstance = Static<typeof IssueLocalizeInstance>;

export const FuncGenInstance = Type.Object(
  {
    ...common,
    task: Type.Literal('func_gen'),
    /** traced: the repository's tests that reach the function; repost: a RepoST evaluation script. */
    source: Type.Union([Type.Literal('traced'), Type.Literal('repost')]),
    /** Time limit of the test run at grading, in seconds. */
    timeout_s: Type.Integer({ minimum: 1, maximum: 3600 }),
    gold: Type.Object(
      {
        file: Type.String(),
        qualname: Type.String(),
        /** The `def` line in the workspace. */
        line: Type.Integer({ minimum: 1 }),
        /** The original body's source text (the lines the placeholder replaced). */
        body: Type.String({ minLength: 1 }),
        /** pytest node ids, run from the repository root; all must pass (RepoST: `["eval_script"]`). None is no instance. */
        tests: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
        /**
         * RepoST: a standalone script that defines the original function and checks
         * `<name>_new_implementation` against it; run with the agent's function appended
         * under that name, it must exit 0.
         */
        eval_script: Type.Optional(Type.String({ minLength: 1 })),
      },
      { additionalProperties: false },
    ),
  },
  { $id: 'hgym.task.func_gen', additionalProperties: false },
);
export type FuncGenInstance = Static<typeof FuncGenInstance>;

export const TASK_SCHEMAS: Record<string, TSchema> = {
  func_localize: FuncLocalizeInstance,
  dep_search: DepSearchInstance,
  issue_localize: IssueLocalizeInstance,
  func_gen: FuncGenInstance,
};

export type TaskInstance = FuncLocalizeInstance | DepSearchInstance | IssueLocalizeInstance | FuncGenInstance;
