/**
 * The real application for HTTP tests: the repository's catalog, CQL and value sets, an
 * in-memory PGlite store and a pinned clock. One per test file (opening PGlite takes seconds).
 */
import type { Express } from 'express';
import { loadConfig, type Config } from '../../src/config';
import { createApp, type AppContext } from '../../src/http/app';
import { allRoutes } from '../../src/http/routes';
import { silentLogger, type Logger } from '../../src/logger';
import { buildContext } from '../../src/server';

export const EVALUATION_DATE = new Date('2026-11-20T15:00:00Z');

export interface TestApp {
  app: Express;
  ctx: AppContext;
  close(): Promise<void>;
}

export async function createTestApp(overrides: Partial<Config> = {}, clock: () => Date = () => EVALUATION_DATE, logger: Logger = silentLogger): Promise<TestApp> {
  const base = loadConfig({ ...process.env, DATABASE_URL: '' });
  const config: Config = { ...base, dataDir: 'memory://', publicBaseUrl: 'http://pa.test', ...overrides };
  if (!overrides.databaseUrl) delete (config as { databaseUrl?: string }).databaseUrl;
  const ctx = await buildContext(config, logger, clock);
  return { app: createApp(ctx, allRoutes), ctx, close: () => ctx.store.close() };
}

/**
 * The same store, engine and clock as `base` under other settings (body limits, authentication,
 * rate limits): a second express app and no second PGlite (opening one costs about a second of
 * CPU). Settings read when the context is built (store, engine, time zone) stay those of `base`.
 */
export function withSettings(base: TestApp, overrides: Partial<Config>): TestApp {
  const ctx: AppContext = { ...base.ctx, config: { ...base.ctx.config, ...overrides } };
  return { app: createApp(ctx, allRoutes), ctx, close: async () => undefined };
}

