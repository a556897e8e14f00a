/**
 * JSON Schemas of the action space: each tool's arguments, and an action as a trainer
 * sends it. TypeScript types are derived from these (Static), never written twice.
 */
import { Type, type Static } from '@sinclair/typebox';

export const ExecuteBashArgs = Type.Object(
  {
    command: Type.String({
      description: 'The bash command to run. The shell persists between calls: the working directory and exported variables carry over.',
    }),
    timeout: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        description: 'Seconds before the command and every process it started are killed. It can lower the server limit, not raise it.',
      }),
    ),
  },
  { $id: 'hgym.tool.execute_bash', additionalProperties: false },
);
export type ExecuteBashArgs = Static<typeof ExecuteBashArgs>;

export const EDITOR_COMMANDS = ['view', 'create', 'str_replace', 'insert', 'undo_edit'] as const;
export type EditorCommand = (typeof EDITOR_COMMANDS)[number];

export const StrReplaceEditorArgs = Type.Object(
  {
    // A plain enum (not a union of constants) so that models and validation messages see the list.
    command: Type.Unsafe<EditorCommand>({
      type: 'string',
      enum: [...EDITOR_COMMANDS],
      description: 'view: show a file with line numbers, or a directory two levels deep. create: write a new file. str_replace: replace the one occurrence of old_str. insert: add new_str after line insert_line. undo_edit: revert the last edit of the file.',
    }),
    path: Type.String({ description: 'Absolute path of a file or directory, e.g. /workspace/repo/module.py.' }),
    file_text: Type.Optional(Type.String({ description: 'create: the content of the new file.' })),
    old_str: Type.Optional(Type.String({ description: 'str_replace: the exact text to replace; it must occur exactly once in the file.' })),
    new_str: Type.Optional(Type.String({ description: 'str_replace: the replacement (empty to delete). insert: the text to insert.' })),
    insert_line: Type.Optional(Type.Integer({ minimum: 0, description: 'insert: new_str goes after this line (0 = at the top).' })),
    view_range: Type.Optional(
      Type.Array(Type.Integer(), {
        minItems: 2,
        maxItems: 2,
        description: 'view of a file: [start, end] line numbers, 1-based and inclusive; end -1 means to the end.',
      }),
    ),
  },
  { $id: 'hgym.tool.str_replace_editor', additionalProperties: false },
);
export type StrReplaceEditorArgs = Static<typeof StrReplaceEditorArgs>;

export const ThinkArgs = Type.Object(
  { thought: Type.String({ description: 'Your reasoning. It changes nothing and is kept in the trajectory.' }) },
  { $id: 'hgym.tool.think', additionalProperties: false },
);
export type ThinkArgs = Static<typeof ThinkArgs>;

export const FinishArgs = Type.Object(
  { message: Type.Optional(Type.String({ description: 'A short summary of what you did.' })) },
  { $id: 'hgym.tool.finish', additionalProperties: false },
);
export type FinishArgs = Static<typeof FinishArgs>;

/**
 * One step's action: a tool call, or a plain assistant message (answered with a nudge). A tool
 * call may carry `content`, the model's text that came with it: the tool ignores it, the
 * trajectory keeps it, and the SFT export puts it back beside the call.
 */
export const Action = Type.Union(
  [
    Type.Object(
      {
        tool: Type.String({ minLength: 1, maxLength: 64 }),
        arguments: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
        content: Type.Optional(Type.String({ description: "The assistant's text beside this tool call, kept for the trajectory and the SFT export." })),
      },
      { additionalProperties: false },
    ),
    Type.Object({ message: Type.String() }, { additionalProperties: false }),
  ],
  { $id: 'hgym.action' },
);
export type Action = Static<typeof Action>;

/** One tool as GET /v1/tools lists it: the OpenAI function-calling shape, ready to hand to a model. */
export const ToolDefinition = Type.Object(
  {
    type: Type.Literal('function'),
    function: Type.Object({
      name: Type.String(),
      description: Type.String(),
      parameters: Type.Record(Type.String(), Type.Unknown(), { description: "the JSON Schema of the tool's arguments" }),
    }),
  },
  { $id: 'hgym.tool.definition' },
);

/** Every schema of the action space, by the name the OpenAPI document gives it. */
export const TOOL_SCHEMAS = { ExecuteBashArgs, StrReplaceEditorArgs, ThinkArgs, FinishArgs, Action, ToolDefinition } as const;
