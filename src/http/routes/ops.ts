/**
 * Operations endpoints, outside /fhir and unauthenticated (except /metrics when METRICS_TOKEN is set):
 * - `GET /health/live`: the process answers;
 * - `GET /health/ready`: the store answers a trivial query, every catalog policy has its compiled
 *   CQL, every worker thread has loaded its engine (the server answers while they load, but a first
 *   request would wait for them), and the server is not shutting down; otherwise 503 with the reasons;
 * - `GET /metrics`: Prometheus text exposition (src/ops/metrics.ts), plus the per-client rate limit
 *   placed after the SMART bearer check (see `clientLimitRoutes`).
 */
import crypto from 'node:crypto';
import { route, type AppContext, type RouteModule } from '../app';
import { exposition } from '../../ops/metrics';
import { unauthorized } from '../../fhir/outcomes';
import { clientRateLimit } from '../operations';
import { settlesWithin } from '../../core/promises';

const STORE_TIMEOUT_MS = 2000;

/** Why the server should not get traffic now; empty when ready. */
export async function notReadyReasons(ctx: AppContext): Promise<string[]> {
  const reasons: string[] = [];
  if (ctx.shuttingDown) reasons.push('shutting down');
  const policies = ctx.engine.catalog.policies;
  if (policies.length === 0) reasons.push('no policies are loaded');
  for (const policy of policies) {
    if (!ctx.engine.libraries.libraries.has(policy.library.name)) reasons.push(`policy ${policy.id}: CQL library ${policy.library.name} is not loaded`);
  }
  const threads = ctx.threads;
  if (threads && threads.loaded() < threads.size) reasons.push(`worker threads loading (${threads.loaded()} of ${threads.size} ready)`);
  try {
    if (!(await settlesWithin(ctx.store.ping(), STORE_TIMEOUT_MS))) throw new Error(`no answer within ${STORE_TIMEOUT_MS} ms`);
  } catch (error) {
    // The reason names the failure, not the connection string.
    reasons.push(`store (${ctx.store.backend}) does not answer: ${error instanceof Error ? error.message.split('\n')[0] : 'error'}`);
  }
  return reasons;
}

function sameSecret(given: string, expected: string): boolean {
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}

export const opsRoutes: RouteModule = (router, ctx) => {
  const json = 'application/json';
  const noStore = { 'Cache-Control': 'no-store' };
  router.get('/health/live', route(async () => ({ status: 200, contentType: json, headers: noStore, body: { status: 'ok' } }), ctx));
  router.get(
    '/health/ready',
    route(async () => {
      const reasons = await notReadyReasons(ctx);
      return reasons.length === 0
        ? { status: 200, contentType: json, headers: noStore, body: { status: 'ready', store: ctx.store.backend, policies: ctx.engine.catalog.policies.length } }
        : { status: 503, contentType: json, headers: noStore, body: { status: 'not ready', reasons } };
    }, ctx),
  );
  const token = ctx.config.ops.metricsToken;
  router.get(
    '/metrics',
    route(async ({ headers }) => {
      if (token) {
        const given = /^Bearer (.+)$/.exec(String(headers.authorization ?? ''))?.[1];
        if (!given || !sameSecret(given, token)) {
          const error = unauthorized('GET /metrics needs "Authorization: Bearer <METRICS_TOKEN>".');
          throw error;
        }
      }
      const { contentType, body } = await exposition();
      return { status: 200, contentType, headers: noStore, body };
    }, ctx),
  );
};

/** The per-client rate limit, mounted on /fhir after the SMART bearer check has named the client. */
export const clientLimitRoutes: RouteModule = (router, ctx) => {
  const limit = clientRateLimit(ctx.config, ctx.store, ctx.logger);
  if (limit) router.use('/fhir', limit);
};
