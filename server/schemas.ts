/**
 * Every JSON Schema the server serves (GET /v1/schemas) and the OpenAPI document names as a
 * component, by that name: the API's bodies, queries and answers, the WebSocket frames, the
 * tools, and the task instance records of all four families.
 */
import type { TSchema } from '@sinclair/typebox';
import { API_SCHEMAS } from '../schemas/api.js';
import { WS_SCHEMAS } from '../schemas/ws.js';
import { TOOL_SCHEMAS } from '../schemas/tools.js';
import { TRAJECTORY_SCHEMAS } from '../schemas/trajectories.js';
import { METRICS_SCHEMAS } from '../schemas/metrics.js';
import { DepSearchInstance, Edit, FuncGenInstance, FuncLocalizeInstance, IssueLocalizeInstance, RepoRef } from '../schemas/tasks.js';

export const NAMED_SCHEMAS: Readonly<Record<string, TSchema>> = {
  ...TOOL_SCHEMAS,
  ...API_SCHEMAS,
  ...WS_SCHEMAS,
  ...TRAJECTORY_SCHEMAS,
  ...METRICS_SCHEMAS,
  RepoRef,
  Edit,
  FuncLocalizeInstance,
  DepSearchInstance,
  IssueLocalizeInstance,
  FuncGenInstance,
};

/** The component name of each schema, by its `$id`. */
export const SCHEMA_NAMES: ReadonlyMap<string, string> = new Map(Object.entries(NAMED_SCHEMAS).map(([name, s]) => [s.$id as string, name]));

/** Every schema as plain JSON, by `$id`. */
export const SCHEMAS: Readonly<Record<string, unknown>> = Object.fromEntries(
  // A JSON round trip drops TypeBox's symbol keys.
  Object.values(NAMED_SCHEMAS).map((s) => [s.$id as string, JSON.parse(JSON.stringify(s)) as unknown]),
);
