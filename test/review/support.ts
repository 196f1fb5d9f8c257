/**
 * The review suites' kit: store backends (PGlite in memory always, PostgreSQL in its own schema
 * when DATABASE_URL is set), the real policy engine, PAS requests that pend, and a movable clock.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Bundle, Claim } from 'fhir/r4';
import { loadConfig, REPO_ROOT, type Config } from '../../src/config';
import { createPolicyEngine, type PolicyEngine } from '../../src/engine';
import { silentLogger } from '../../src/logger';
import { submitClaim } from '../../src/pas/submit';
import type { SqlExecutor, Store } from '../../src/store';
import { DATABASE_URL, freshSchema } from '../support/postgres';

export interface Backend {
  name: string;
  enabled: boolean;
  setup(): Promise<Pick<Config, 'databaseUrl' | 'dataDir'>>;
  teardown(): Promise<void>;
}

/** PGlite in memory always; PostgreSQL in a throw-away schema when DATABASE_URL is set. */
export function backends(): Backend[] {
  const drops: (() => Promise<void>)[] = [];
  return [
    { name: 'PGlite (memory://)', enabled: true, setup: async () => ({ dataDir: 'memory://' }), teardown: async () => undefined },
    {
      name: DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : 'PostgreSQL — skipped: DATABASE_URL is not set',
      enabled: Boolean(DATABASE_URL),
      async setup() {
        const { databaseUrl, drop } = await freshSchema();
        drops.push(drop);
        return { databaseUrl, dataDir: 'memory://' };
      },
      async teardown() {
        for (const drop of drops.splice(0)) await drop();
      },
    },
  ];
}

let engine: PolicyEngine | undefined;
/** One engine per test file: loading the ELM takes seconds. */
export function sharedEngine(): PolicyEngine {
  engine ??= createPolicyEngine(loadConfig({ ...process.env, DATABASE_URL: '' }).paths);
  return engine;
}

/** A clock the test moves. */
export function movableClock(start: Date): { now: () => Date; set(d: Date | string): void; advance(ms: number): void } {
  let current = new Date(start);
  return {
    now: () => new Date(current),
    set: (d) => void (current = new Date(d)),
    advance: (ms) => void (current = new Date(current.getTime() + ms)),
  };
}

export const HOUR = 3600_000;
export const DAY = 24 * HOUR;

export type RequestName = 'kineret' | 'carvykti';
const FILES: Record<RequestName, string> = { kineret: 'kineret-request-base.json', carvykti: 'carvykti-request-urgent.json' };

/** A fresh PAS request with its own Claim id, identifier and member (so each test submits a new request). */
export function pasRequest(name: RequestName, change?: (claim: Claim, bundle: Bundle) => void): Bundle {
  const bundle = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'fixtures', 'pas', FILES[name]), 'utf8')) as Bundle;
  const claim = bundle.entry?.[0]?.resource as Claim;
  const tag = crypto.randomBytes(4).toString('hex');
  claim.id = `${claim.id ?? 'claim'}-${tag}`;
  const identifier = claim.identifier?.[0];
  if (identifier) identifier.value = `${identifier.value ?? ''}-${tag}`;
  const fullUrl = bundle.entry?.[0]?.fullUrl;
  if (fullUrl && bundle.entry?.[0]) bundle.entry[0].fullUrl = fullUrl.replace(/Claim\/[^/]+$/, `Claim/${claim.id}`);
  // Another member each time: an authorization on file for the same member and drug would answer the request.
  for (const entry of bundle.entry ?? []) {
    if (entry.resource?.resourceType !== 'Coverage') continue;
    const coverage = entry.resource;
    if (coverage.subscriberId) coverage.subscriberId = `${coverage.subscriberId}-${tag}`;
    for (const id of coverage.identifier ?? []) if (id.value) id.value = `${id.value}-${tag}`;
  }
  change?.(claim, bundle);
  return bundle;
}

/** Submits through `Claim/$submit`'s domain handler; returns the stored claim id. */
export async function submit(store: Store, clock: () => Date, bundle: Bundle): Promise<string> {
  const result = await submitClaim({ engine: sharedEngine(), store, clock, logger: silentLogger }, bundle, crypto.randomUUID());
  const response = result.body.entry?.[0]?.resource;
  const reference = response?.resourceType === 'ClaimResponse' ? response.request?.reference : undefined;
  const id = /(?:^|\/)Claim\/([^/]+)$/.exec(reference ?? '')?.[1];
  if (!id) throw new Error('the submit answer names no Claim');
  return id;
}

/** Raw SQL on the store's own connection, for backdating rows in report tests. */
export function rawSql(store: Store): SqlExecutor {
  return (store as unknown as { db: SqlExecutor }).db;
}
