/**
 * Starts the server: loads the policies and compiled CQL once, opens the store (PGlite by
 * default, PostgreSQL when DATABASE_URL is set), and serves CRD, DTR and PAS on PORT.
 */
import type { Server } from 'node:http';
import { loadConfig, type Config } from './config';
import { createEngine } from './engine/pool';
import { loadArtifacts } from './dtr/artifacts';
import { openStore } from './store';
import { createLogger, type Logger } from './logger';
import { createApp, type AppContext } from './http/app';
import { allRoutes } from './http/routes';

export async function buildContext(config: Config, logger: Logger, clock: () => Date = () => new Date()): Promise<AppContext> {
  const engine = createEngine(config);
  const artifacts = loadArtifacts(config.paths);
  const store = await openStore(config);
  return { config, engine, artifacts, store, logger, clock };
}

/**
 * Open mode (no SMART_CLIENTS, no CDS_TRUSTED_ISSUERS) is for development: a loud warning, and
 * NODE_ENV=production refuses to start with either door open.
 */
export function assertNotOpen(config: Config, logger: Logger): void {
  const open: string[] = [];
  if (config.smartClients.length === 0) open.push('/fhir (no SMART_CLIENTS)');
  if (config.trustedIssuers.length === 0) open.push('CDS Hooks (no CDS_TRUSTED_ISSUERS)');
  if (open.length === 0) return;
  if (config.production) {
    throw new Error(`NODE_ENV=production refuses to start unauthenticated: ${open.join(' and ')}. Configure SMART_CLIENTS and CDS_TRUSTED_ISSUERS.`);
  }
  logger.warn('authentication is OFF: any caller is accepted. Development only.', { open });
  process.stderr.write(`\n*** WARNING: NOT authenticated: ${open.join(', ')}. Any caller can read and submit. Development use only. ***\n\n`);
}

export async function start(config: Config = loadConfig()): Promise<{ server: Server; ctx: AppContext }> {
  const logger = createLogger();
  assertNotOpen(config, logger);
  const ctx = await buildContext(config, logger);
  const app = createApp(ctx, allRoutes);
  const server = app.listen(config.port);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  logger.info('listening', {
    url: config.publicBaseUrl,
    store: ctx.store.backend,
    policies: ctx.engine.catalog.policies.map((p) => p.id),
  });
  const stop = (signal: string) => {
    logger.info('stopping', { signal });
    server.close(() => {
      void Promise.allSettled([ctx.store.close(), ctx.engine.close?.()]).finally(() => process.exit(0));
    });
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  return { server, ctx };
}

if (require.main === module) {
  start().catch((error: unknown) => {
    process.stderr.write(`Failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
