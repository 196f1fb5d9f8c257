/**
 * Prometheus metrics (prom-client), served at `GET /metrics` in the text exposition format.
 * One registry per process: the HTTP layer, the decision paths and the subscription outbox all
 * report here through the functions below, so none of them needs the app context.
 *
 * - `pa_http_request_duration_seconds{method,operation,status}`: latency per operation, labelled by
 *   route template (`/fhir/Claim/:id`), never the raw path, so ids cannot blow up the series count;
 * - `pa_decisions_total{source,policy,outcome}`: CRD and PAS decisions;
 * - `pa_outbox_depth`, `pa_delivery_failures_total`: subscription notifications waiting, and failed deliveries;
 * - the standard process and Node.js metrics (CPU, memory, event loop lag, GC).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

const httpDuration = new Histogram({
  name: 'pa_http_request_duration_seconds',
  help: 'HTTP request latency by operation (route template)',
  labelNames: ['method', 'operation', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

const decisions = new Counter({
  name: 'pa_decisions_total',
  help: 'Coverage decisions by source (crd, pas), policy and outcome',
  labelNames: ['source', 'policy', 'outcome'] as const,
  registers: [registry],
});

const outboxDepth = new Gauge({
  name: 'pa_outbox_depth',
  help: 'Subscription notifications waiting in the outbox',
  registers: [registry],
});

const deliveryFailures = new Counter({
  name: 'pa_delivery_failures_total',
  help: 'Subscription notification deliveries that failed',
  registers: [registry],
});

/** Operation label for requests that matched no route (404s, and refusals before routing). */
export const UNROUTED = 'unrouted';

export function observeRequest(method: string, operation: string, status: number, seconds: number): void {
  httpDuration.observe({ method, operation, status: String(status) }, seconds);
}

/** One decision: `policy` is the catalog id ("none" when no policy applied). */
export function countDecision(source: 'crd' | 'pas', policy: string | null, outcome: string): void {
  decisions.inc({ source, policy: policy ?? 'none', outcome });
}

export function observeOutboxDepth(n: number): void {
  outboxDepth.set(n);
}

export function countDeliveryFailure(): void {
  deliveryFailures.inc();
}

/** The exposition text and its content type. */
export async function exposition(): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}
