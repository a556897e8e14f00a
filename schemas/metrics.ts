/** JSON Schema of the metrics' JSON view (GET /v1/metrics), for clients that read JSON rather than the Prometheus text. */
import { Type, type Static } from '@sinclair/typebox';

/** One series of a metric: its sample name (a histogram's `_bucket`, `_sum`, `_count`), labels and value. */
export const MetricSample = Type.Object(
  {
    name: Type.String(),
    labels: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number()])),
    /** Null where the text format says NaN or ±Inf. */
    value: Type.Union([Type.Number(), Type.Null()]),
  },
  { $id: 'hgym.api.metric_sample', additionalProperties: false },
);
export type MetricSample = Static<typeof MetricSample>;

export const MetricsAnswer = Type.Object(
  {
    metrics: Type.Array(
      Type.Object({
        name: Type.String(),
        help: Type.String(),
        type: Type.Union([Type.Literal('counter'), Type.Literal('gauge'), Type.Literal('histogram'), Type.Literal('summary')]),
        samples: Type.Array(MetricSample),
      }),
    ),
  },
  { $id: 'hgym.api.metrics', description: 'The registry GET /metrics exposes, as JSON: the same metrics, collected the same way.' },
);
export type MetricsAnswer = Static<typeof MetricsAnswer>;

export const METRICS_SCHEMAS = { MetricSample, MetricsAnswer } as const;
