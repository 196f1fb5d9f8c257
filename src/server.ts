/**
 * Starts the server: loads the policies and compiled CQL once, opens the store (PGlite by
 * default, PostgreSQL when DATABASE_URL is set), and serves CRD, DTR and PAS on PORT.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig, type Config } from './config';
import { createWorkerThreads } from './engine/threads';
import { readEngineSources } from './engine/sources';
import { openStore } from './store';
import { createLogger, type Logger } from './logger';
import type { AppContext } from './http/app';
import type { Dispatcher, DispatcherOptions } from './subscriptions/dispatcher';
import { reviewAccess } from './review/access';
import { collectWhenIdle } from './ops/collect-garbage';
import { settlesWithin } from './core/promises';

// The rest of the server loads once the store and the worker threads have begun to start: its
// ~0.5 s of module loading then runs beside their start instead of before it.
const engineModules = () => Promise.all([import('./engine/pool'), import('./fhir/structure-checker'), import('./dtr/artifacts')]);
const httpModules = () => Promise.all([import('./http/app'), import('./http/routes')]);

export async function buildContext(config: Config, logger: Logger, clock: () => Date = () => new Date()): Promise<AppContext> {
  // The store opens on its own thread (PGlite) or over the network while this thread loads the
  // engine and the DTR artifacts (ELM and value sets read once, for both).
  const opening = openStore(config);
  let threads: AppContext['threads'];
  let engine: AppContext['engine'];
  let artifacts: AppContext['artifacts'];
  let structure: AppContext['structure'];
  try {
    // The catalog is validated here, once: the worker threads are given its policies.
    const sources = readEngineSources(config.paths);
    // The worker threads start loading now too (each its engine and the R4 definitions).
    threads = config.evaluation.workers > 0 ? createWorkerThreads(config, sources.policies) : undefined;
    const [{ createEngine }, { createStructureChecker }, { loadArtifacts }] = await engineModules();
    engine = createEngine(config, sources, threads);
    structure = createStructureChecker(threads);
    artifacts = loadArtifacts(config.paths, { knowledge: sources.knowledge });
  } catch (error) {
    await Promise.allSettled([opening.then((store) => store.close()), threads?.close()]);
    throw error;
  }
  const store = await opening.catch(async (error: unknown) => {
    await threads?.close();
    throw error;
  });
  return { config, engine, structure, artifacts, store, logger, clock, ...(threads ? { threads } : {}) };
}

/**
 * Open mode (no SMART_CLIENTS, no CDS_TRUSTED_ISSUERS) is for development: a loud warning, and
 * NODE_ENV=production refuses to start with either door open.
 * The review workbench follows: open only when nothing at all is configured (then the warning names
 * it); in production with /fhir and CDS Hooks authenticated but no reviewer sign-in nor API tokens
 * it stays closed (401) and start-up says so; reviewer sign-in in production needs https.
 */
export function assertNotOpen(config: Config, logger: Logger): void {
  const open: string[] = [];
  if (config.smartClients.length === 0) open.push('/fhir (no SMART_CLIENTS)');
  if (config.trustedIssuers.length === 0) open.push('CDS Hooks (no CDS_TRUSTED_ISSUERS)');
  if (reviewAccess(config) === 'open') open.push('/review workbench and API (no REVIEW_OIDC_ISSUER or REVIEW_API_TOKENS; the body names the reviewer)');
  const { oidc } = config.reviewAuth;
  if (config.production && oidc && (!oidc.redirectUrl.startsWith('https:') || !oidc.issuer.startsWith('https:') || !config.publicBaseUrl.startsWith('https:'))) {
    throw new Error('NODE_ENV=production refuses reviewer sign-in over plain http: PUBLIC_BASE_URL, REVIEW_OIDC_ISSUER and REVIEW_OIDC_REDIRECT_URL must be https (Secure session cookies).');
  }
  if (open.length === 0) {
    if (reviewAccess(config) === 'closed') {
      logger.warn('review workbench closed: no reviewer sign-in (REVIEW_OIDC_ISSUER) nor API tokens (REVIEW_API_TOKENS); /review and /review/api answer 401', {});
    }
    return;
  }
  if (config.production) {
    throw new Error(`NODE_ENV=production refuses to start unauthenticated: ${open.join(' and ')}. Configure SMART_CLIENTS and CDS_TRUSTED_ISSUERS.`);
  }
  logger.warn('authentication is OFF: any caller is accepted. Development only.', { open });
  process.stderr.write(`\n*** WARNING: NOT authenticated: ${open.join(', ')}. Any caller can read and submit. Development use only. ***\n\n`);
}

/** The outbox dispatcher for PAS Subscriptions (none when SUBSCRIPTION_POLL_MS is 0); `onTick` feeds metrics. */
export async function startDispatcher(ctx: AppContext, onTick?: DispatcherOptions['onTick']): Promise<Dispatcher | undefined> {
  const settings = ctx.config.subscriptions;
  if (!(settings.pollMs > 0)) return undefined;
  const { createDispatcher } = await import('./subscriptions/dispatcher');
  const dispatcher = createDispatcher({
    store: ctx.store,
    fhirBase: `${ctx.config.publicBaseUrl}/fhir`,
    logger: ctx.logger,
    ...settings,
    requireHttps: ctx.config.smartClients.length > 0,
    ...(onTick ? { onTick } : {}),
  });
  dispatcher.start();
  return dispatcher;
}

/**
 * Graceful stop: readiness turns 503, the listener closes (no new connections; idle keep-alive
 * connections are closed), requests in flight get up to `graceMs` to finish (their answers carry
 * `Connection: close`), then any connection left is cut, the outbox dispatcher stops and the store
 * is closed. The store and the worker threads get `graceMs` too: one stuck in a statement (its
 * PGlite folder deleted under it, say) must not keep the process from exiting; what was committed
 * is on disk, and PGlite (PostgreSQL) replays its log at the next open.
 * Says whether every request finished, and whether everything closed, within the grace periods.
 */
export async function shutdown(server: Server, ctx: AppContext, graceMs: number, dispatcher?: Dispatcher): Promise<{ inFlightFinished: boolean; closed: boolean }> {
  ctx.shuttingDown = true;
  server.prependListener('request', (_req, res) => res.setHeader('Connection', 'close'));
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const inFlightFinished = await settlesWithin(closed, graceMs);
  if (!inFlightFinished) {
    server.closeAllConnections();
    await closed;
  }
  // The outbox stays in the store: what the dispatcher has not sent, the next start sends.
  await dispatcher?.stop();
  const released = await settlesWithin(Promise.allSettled([ctx.store.close(), ctx.engine.close?.(), ctx.threads?.close()]), graceMs);
  if (!released) ctx.logger.error('the store or the worker threads did not close within the grace period; stopping anyway', { graceMs });
  return { inFlightFinished, closed: released };
}

export async function start(config: Config = loadConfig()): Promise<{ server: Server; ctx: AppContext; dispatcher?: Dispatcher }> {
  const logger = createLogger({ level: config.ops.logLevel });
  assertNotOpen(config, logger);
  const [ctx, [{ createApp }, { allRoutes }]] = await Promise.all([buildContext(config, logger), httpModules()]);
  const app = createApp(ctx, allRoutes);
  const server = app.listen(config.port);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const collector = collectWhenIdle();
  server.on('request', (_req, res) => res.once('close', collector.begin()));
  server.once('close', () => collector.stop());
  const dispatcher = await startDispatcher(ctx);
  void ctx.threads?.warm.then(() => logger.info('worker threads loaded', { threads: ctx.threads?.size, msSinceStart: Math.round(performance.now()) }));
  logger.info('listening', {
    url: config.publicBaseUrl,
    port: (server.address() as AddressInfo).port,
    store: ctx.store.backend,
    policies: ctx.engine.catalog.policies.map((p) => p.id),
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { signal, graceMs: config.ops.shutdownGraceMs });
    shutdown(server, ctx, config.ops.shutdownGraceMs, dispatcher)
      .then(({ inFlightFinished, closed }) => {
        logger.info('stopped', { signal, inFlightFinished, closed });
        process.exit(inFlightFinished && closed ? 0 : 1);
      })
      .catch((error: unknown) => {
        logger.error('shutdown failed', { error: error instanceof Error ? error.message : String(error) });
        process.exit(1);
      });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  return { server, ctx, ...(dispatcher ? { dispatcher } : {}) };
}

if (require.main === module) {
  start().catch((error: unknown) => {
    process.stderr.write(`Failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
