/** Every JSON Schema the server serves, by `$id`, as plain JSON. */
import type { TSchema } from '@sinclair/typebox';
import { API_SCHEMAS } from '../schemas/api.js';
import { WS_SCHEMAS } from '../schemas/ws.js';
import { TOOL_SCHEMAS } from '../schemas/tools.js';
import { DepSearchInstance, Edit, FuncLocalizeInstance, RepoRef } from '../schemas/tasks.js';

const ALL: TSchema[] = [...TOOL_SCHEMAS, ...API_SCHEMAS, ...WS_SCHEMAS, RepoRef, Edit, FuncLocalizeInstance, DepSearchInstance];

export const SCHEMAS: Record<string, unknown> = Object.fromEntries(
  // A JSON round trip drops TypeBox's symbol keys.
  ALL.map((s) => [s.$id as string, JSON.parse(JSON.stringify(s)) as unknown]),
);
