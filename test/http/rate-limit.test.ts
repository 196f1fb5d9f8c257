/**
 * Rate limits: per IP on every route, per SMART client on /fhir; 429 with a `throttled`
 * OperationOutcome and Retry-After. With RATE_LIMIT_STORE=database the counters live in the store,
 * so two instances on one database share them (PostgreSQL when DATABASE_URL is set, else PGlite).
 */
import crypto from 'node:crypto';
import request from 'supertest';
import { Client } from 'pg';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { OperationOutcome } from 'fhir/r4';
import { createTestApp, EVALUATION_DATE, type TestApp } from '../support/app';
import { loadConfig, loadOpsConfig, type Config, type OpsConfig } from '../../src/config';
import { createApp } from '../../src/http/app';
import { allRoutes } from '../../src/http/routes';
import { buildContext } from '../../src/server';
import { silentLogger } from '../../src/logger';
import { openStore, type Store } from '../../src/store';

type KeyLike = Parameters<SignJWT['sign']>[0];
const DATABASE_URL = process.env.DATABASE_URL;

function ops(env: Record<string, string>): OpsConfig {
  return loadOpsConfig(env);
}

function expect429(res: request.Response, who: RegExp): void {
  expect(res.status).toBe(429);
  const outcome = res.body as OperationOutcome;
  expect(outcome.resourceType).toBe('OperationOutcome');
  expect(outcome.issue[0]).toMatchObject({ severity: 'error', code: 'throttled', diagnostics: expect.stringMatching(who) });
  const retryAfter = Number(res.headers['retry-after']);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(60);
}

describe('per IP', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ ops: ops({ RATE_LIMIT_PER_IP: '3', RATE_LIMIT_WINDOW_SECONDS: '60' }) });
  }, 60_000);
  afterAll(() => t.close());

  test('the fourth request in the window is refused, on any route, with CORS headers', async () => {
    for (let i = 0; i < 3; i++) {
      const ok = await request(t.app).get('/fhir/metadata');
      expect(ok.status).toBe(200);
      expect(ok.headers.ratelimit).toMatch(new RegExp(`remaining=${2 - i}`));
    }
    const refused = await request(t.app).get('/cds-services');
    expect429(refused, /this IP address: at most 3 per 60 s/);
    expect(refused.headers['access-control-allow-origin']).toBe('*');
  });
});

describe('per SMART client', () => {
  let t: TestApp;
  const keys: Record<string, KeyLike> = {};

  async function tokenFor(clientId: string): Promise<string> {
    const now = Math.floor(EVALUATION_DATE.getTime() / 1000);
    const assertion = await new SignJWT({ jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: 'ES384', kid: clientId })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience('http://pa.test/auth/token')
      .setExpirationTime(now + 240)
      .sign(keys[clientId]!);
    const res = await request(t.app).post('/auth/token').type('form').send({
      grant_type: 'client_credentials',
      scope: 'system/ClaimResponse.r',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    });
    expect(res.status).toBe(200);
    return (res.body as { access_token: string }).access_token;
  }

  beforeAll(async () => {
    const clients: Config['smartClients'] = [];
    for (const clientId of ['ehr-a', 'ehr-b']) {
      const pair = await generateKeyPair('ES384', { extractable: true });
      keys[clientId] = pair.privateKey as KeyLike;
      const jwk = { ...(await exportJWK(pair.publicKey)), kid: clientId, alg: 'ES384' };
      clients.push({ clientId, jwks: { keys: [jwk] }, organization: { system: 'http://hl7.org/fhir/sid/us-npi', value: clientId }, scope: 'system/ClaimResponse.r' });
    }
    t = await createTestApp({ smartClients: clients, ops: ops({ RATE_LIMIT_PER_CLIENT: '2', RATE_LIMIT_PER_IP: '1000' }) });
  }, 60_000);
  afterAll(() => t.close());

  test('a client over its limit gets 429; another client from the same address does not', async () => {
    const a = await tokenFor('ehr-a');
    const b = await tokenFor('ehr-b');
    const read = (token: string) => request(t.app).get(`/fhir/ClaimResponse/${crypto.randomUUID()}`).set('Authorization', `Bearer ${token}`);
    expect((await read(a)).status).toBe(404);
    expect((await read(a)).status).toBe(404);
    expect429(await read(a), /this client: at most 2 per 60 s/);
    expect((await read(b)).status).toBe(404);
    // Unauthenticated and discovery requests are not counted against a client.
    expect((await request(t.app).get('/fhir/metadata')).status).toBe(200);
    expect((await request(t.app).get('/fhir/ClaimResponse/x')).status).toBe(401);
  });
});

describe('counters in the store, shared by two instances', () => {
  const schemas: string[] = [];
  const admin = async (sql: string) => {
    const c = new Client({ connectionString: DATABASE_URL });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  afterAll(async () => {
    for (const schema of schemas) await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  /** Two app instances on one database: PostgreSQL (two connections) or, without it, one PGlite store. */
  async function twoInstances(opsConfig: OpsConfig) {
    const base: Config = { ...loadConfig({ ...process.env, DATABASE_URL: '' }), dataDir: 'memory://', publicBaseUrl: 'http://pa.test', ops: opsConfig };
    delete (base as { databaseUrl?: string }).databaseUrl;
    if (DATABASE_URL) {
      const schema = `test_${crypto.randomBytes(6).toString('hex')}`;
      await admin(`CREATE SCHEMA ${schema}`);
      schemas.push(schema);
      const url = `${DATABASE_URL}${DATABASE_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
      const one = await buildContext({ ...base, databaseUrl: url }, silentLogger);
      const two = await buildContext({ ...base, databaseUrl: url }, silentLogger);
      return { apps: [createApp(one, allRoutes), createApp(two, allRoutes)], close: async () => Promise.all([one.store.close(), two.store.close()]) };
    }
    const ctx = await buildContext(base, silentLogger);
    return { apps: [createApp(ctx, allRoutes), createApp({ ...ctx }, allRoutes)], close: () => ctx.store.close() };
  }

  test(`the limit holds across instances (${DATABASE_URL ? 'PostgreSQL' : 'PGlite; PostgreSQL skipped: DATABASE_URL is not set'})`, async () => {
    const pair = await twoInstances(ops({ RATE_LIMIT_PER_IP: '4', RATE_LIMIT_STORE: 'database' }));
    try {
      const [one, two] = pair.apps as [ReturnType<typeof createApp>, ReturnType<typeof createApp>];
      for (const app of [one, two, one, two]) expect((await request(app).get('/fhir/metadata')).status).toBe(200);
      expect429(await request(two).get('/fhir/metadata'), /this IP address: at most 4/);
      expect429(await request(one).get('/fhir/metadata'), /this IP address/);
    } finally {
      await pair.close();
    }
  }, 60_000);

  test('with per-instance memory counters, each instance counts alone', async () => {
    const pair = await twoInstances(ops({ RATE_LIMIT_PER_IP: '2', RATE_LIMIT_STORE: 'memory' }));
    try {
      const [one, two] = pair.apps as [ReturnType<typeof createApp>, ReturnType<typeof createApp>];
      for (const app of [one, two, one, two]) expect((await request(app).get('/fhir/metadata')).status).toBe(200);
      expect((await request(one).get('/fhir/metadata')).status).toBe(429);
    } finally {
      await pair.close();
    }
  }, 60_000);
});

describe('store counter', () => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore({ dataDir: 'memory://' });
  }, 60_000);
  afterAll(() => store.close());

  test('counts in a fixed window, starts a new one after it ends, takes hits back and resets', async () => {
    const t0 = new Date('2026-11-20T15:00:00Z');
    const at = (ms: number) => new Date(t0.getTime() + ms);
    expect(await store.hitRateLimit('ip:a', 60_000, t0)).toEqual({ hits: 1, resetAt: at(60_000) });
    expect(await store.hitRateLimit('ip:a', 60_000, at(30_000))).toEqual({ hits: 2, resetAt: at(60_000) });
    expect((await store.hitRateLimit('ip:b', 60_000, at(30_000))).hits).toBe(1);
    await store.unhitRateLimit('ip:a');
    expect((await store.hitRateLimit('ip:a', 60_000, at(59_000))).hits).toBe(2);
    expect(await store.hitRateLimit('ip:a', 60_000, at(60_000))).toEqual({ hits: 1, resetAt: at(120_000) });
    await store.resetRateLimit('ip:a');
    expect(await store.hitRateLimit('ip:a', 60_000, at(61_000))).toEqual({ hits: 1, resetAt: at(121_000) });
  });
});
