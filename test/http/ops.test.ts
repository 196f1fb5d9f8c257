/**
 * Operations on the real app: security headers (helmet) with the CORS CDS Hooks clients need,
 * the CSP that lets the policy pages render, body limits per route family, health, a start that an
 * invalid catalog stops, and metrics.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { exportJWK, generateKeyPair } from 'jose';
import type { OperationOutcome } from 'fhir/r4';
import { createTestApp, withSettings, type TestApp } from '../support/app';
import { loadConfig, loadOpsConfig } from '../../src/config';
import { readEngineSources } from '../../src/engine/sources';
import { createWorkerThreads } from '../../src/engine/threads';
import { createApp } from '../../src/http/app';
import { allRoutes } from '../../src/http/routes';
import { countDeliveryFailure, observeOutboxDepth } from '../../src/ops/metrics';
import { fixture } from '../support/crd-client';

const PAS = fs.readFileSync(path.join(__dirname, '../../fixtures/pas/kineret-request-base.json'), 'utf8');
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
}, 60_000);
afterAll(() => t.close());

/** One sample of a metric in the exposition text, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(' ').pop());
  }
  return undefined;
}

describe('security headers', () => {
  test('API answers carry helmet headers and keep CORS for browser CDS clients', async () => {
    const res = await request(t.app).get('/cds-services').set('Origin', 'https://sandbox.cds-hooks.org');
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject({
      'access-control-allow-origin': '*',
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'cross-origin-resource-policy': 'cross-origin',
      'referrer-policy': 'no-referrer',
    });
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(res.headers['access-control-expose-headers']).toMatch(/Retry-After/);
    expect(res.headers['x-powered-by']).toBeUndefined();
    const preflight = await request(t.app)
      .options('/cds-services/pa-order-sign')
      .set('Origin', 'https://sandbox.cds-hooks.org')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization, content-type');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-headers']).toMatch(/Authorization/);
    expect(preflight.headers['access-control-allow-methods']).toMatch(/POST/);
  });

  test('the CSP allows the policy pages’ inline style by its hash, and nothing inline otherwise', async () => {
    for (const page of ['/policies', '/policies/cp-phar-244']) {
      const res = await request(t.app).get(page);
      expect(res.status).toBe(200);
      const csp = String(res.headers['content-security-policy']);
      const styles = [...res.text.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1] ?? '');
      expect(styles.length).toBeGreaterThan(0);
      for (const style of styles) expect(csp).toContain(`'sha256-${crypto.createHash('sha256').update(style).digest('base64')}'`);
      expect(res.text).not.toMatch(/<script|\sstyle=|\son\w+=/);
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).toMatch(/script-src 'self'/);
      expect(csp).toMatch(/frame-ancestors 'none'/);
    }
  });
});

describe('body limits per route', () => {
  let small: TestApp;
  beforeAll(async () => {
    const ops = loadOpsConfig({});
    small = await createTestApp({ ops: { ...ops, bodyLimits: { cdsHooks: 40_000, submit: 60_000, dtr: 2_000, token: 300, other: 200 } } });
  }, 60_000);
  afterAll(() => small.close());

  const expect413 = (res: request.Response, text: RegExp) => {
    expect(res.status).toBe(413);
    const outcome = res.body as OperationOutcome;
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0]).toMatchObject({ severity: 'error', code: 'too-costly', diagnostics: expect.stringMatching(text) });
  };

  test('each family has its own limit, named in the 413', async () => {
    const pas = Buffer.byteLength(PAS);
    expect(pas).toBeGreaterThan(2_000);
    expect(pas).toBeLessThan(60_000);
    // The same PAS Bundle fits $submit's limit but not DTR's.
    const submit = await request(small.app).post('/fhir/Claim/$submit').type('application/fhir+json').send(PAS);
    expect(submit.status).toBe(200);
    expect413(await request(small.app).post('/fhir/Questionnaire/$populate').type('application/fhir+json').send(PAS), /2000 bytes, the limit for DTR operations \(BODY_LIMIT_DTR\)/);
    expect413(await request(small.app).post('/fhir/Claim/$submit').type('application/fhir+json').send(`${PAS}${' '.repeat(60_000)}`), /60000 bytes, the limit for PAS \$submit \(BODY_LIMIT_SUBMIT\)/);

    const hook = JSON.stringify(fixture('order-sign-kineret'));
    expect(Buffer.byteLength(hook)).toBeLessThan(40_000);
    expect((await request(small.app).post('/cds-services/pa-order-sign').type('application/json').send(hook)).status).toBe(200);
    expect413(await request(small.app).post('/cds-services/pa-order-sign').type('application/json').send(`${hook}${' '.repeat(40_000)}`), /BODY_LIMIT_CDS_HOOKS/);

    expect413(await request(small.app).post('/auth/token').type('form').send({ grant_type: 'client_credentials', client_assertion: 'x'.repeat(400) }), /300 bytes, the limit for the token endpoint \(BODY_LIMIT_TOKEN\)/);
    expect413(await request(small.app).post('/cds-services/pa-order-sign/feedback').type('application/json').send(`${hook}${' '.repeat(40_000)}`), /BODY_LIMIT_CDS_HOOKS/);
    expect413(await request(small.app).post('/fhir/Subscription').type('application/fhir+json').send({ resourceType: 'Subscription', reason: 'x'.repeat(300) }), /200 bytes, the limit for this route \(BODY_LIMIT_OTHER\)/);
  });

  test('MAX_BODY_BYTES caps every family', async () => {
    const capped = withSettings(t, { maxBodyBytes: 1000 });
    try {
      expect413(await request(capped.app).post('/fhir/Claim/$submit').type('application/fhir+json').send(PAS), /1000 bytes, the limit for PAS \$submit \(MAX_BODY_BYTES\)/);
    } finally {
      await capped.close();
    }
  });
});

describe('health', () => {
  test('live and ready answer without authentication', async () => {
    const jwk = await exportJWK((await generateKeyPair('ES384', { extractable: true })).publicKey);
    const secured = withSettings(t, { smartClients: [{ clientId: 'c', jwks: { keys: [jwk] }, organization: { system: 's', value: 'v' }, scope: 'system/Claim.c' }] });
    try {
      expect((await request(secured.app).get('/fhir/ClaimResponse/x')).status).toBe(401);
      const live = await request(secured.app).get('/health/live');
      expect(live.status).toBe(200);
      expect(live.body).toEqual({ status: 'ok' });
      const ready = await request(secured.app).get('/health/ready');
      expect(ready.status).toBe(200);
      expect(ready.body).toMatchObject({ status: 'ready', store: 'pglite', policies: 6 });
    } finally {
      await secured.close();
    }
  });

  test('ready is 503 with the reason when the store does not answer, or while shutting down', async () => {
    const other = await createTestApp();
    other.ctx.shuttingDown = true;
    const draining = await request(other.app).get('/health/ready');
    expect(draining.status).toBe(503);
    expect(draining.body).toEqual({ status: 'not ready', reasons: ['shutting down'] });
    other.ctx.shuttingDown = false;
    await other.close();
    const closed = await request(other.app).get('/health/ready');
    expect(closed.status).toBe(503);
    expect(closed.body.reasons).toEqual([expect.stringMatching(/^store \(pglite\) does not answer: /)]);
    expect((await request(other.app).get('/health/live')).status).toBe(200);
  });

  test('ready is 503 until every worker thread has loaded, then 200', async () => {
    const threads = createWorkerThreads({ ...loadConfig({}), evaluation: { workers: 1, timeoutMs: 60_000 } }, readEngineSources(loadConfig({}).paths).policies);
    const app = createApp({ ...t.ctx, threads }, allRoutes);
    try {
      const loading = await request(app).get('/health/ready');
      expect(loading.status).toBe(503);
      expect(loading.body).toEqual({ status: 'not ready', reasons: ['worker threads loading (0 of 1 ready)'] });
      await threads.warm;
      expect(threads.loaded()).toBe(1);
      expect((await request(app).get('/health/ready')).status).toBe(200);
    } finally {
      await threads.close();
    }
  }, 60_000);
});

describe('start-up', () => {
  test('a catalog file that fails validation stops the start, naming the file and element', async () => {
    const paths = loadConfig({}).paths;
    const catalog = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-catalog-'));
    try {
      for (const file of fs.readdirSync(paths.catalog)) fs.copyFileSync(path.join(paths.catalog, file), path.join(catalog, file));
      const broken = JSON.parse(fs.readFileSync(path.join(catalog, 'cp-phar-244.json'), 'utf8')) as { drug: { hcpcs: unknown } };
      broken.drug.hcpcs = 'J3490';
      fs.writeFileSync(path.join(catalog, 'cp-phar-244.json'), JSON.stringify(broken));
      await expect(createTestApp({ paths: { ...paths, catalog }, evaluation: { workers: 1, timeoutMs: 60_000 } })).rejects.toThrow(
        /catalog\/policies\/cp-phar-244\.json: drug\.hcpcs: /,
      );
    } finally {
      fs.rmSync(catalog, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('metrics', () => {
  test('latency by route template, decisions by policy and outcome, outbox depth and delivery failures', async () => {
    const before = (await request(t.app).get('/metrics')).text;
    const id = crypto.randomUUID();
    expect((await request(t.app).get(`/fhir/ClaimResponse/${id}`)).status).toBe(404);
    expect((await request(t.app).post('/fhir/Claim/$submit').type('application/fhir+json').send(PAS)).status).toBe(200);
    expect((await request(t.app).post('/cds-services/pa-order-sign').type('application/json').send(fixture('order-sign-kineret'))).status).toBe(200);
    observeOutboxDepth(7);
    countDeliveryFailure();
    countDeliveryFailure();

    const res = await request(t.app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = res.text;
    expect(text).toContain('# TYPE pa_http_request_duration_seconds histogram');
    expect(sample(text, 'pa_http_request_duration_seconds_count', { operation: '/fhir/ClaimResponse/:id', status: '404', method: 'GET' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'pa_http_request_duration_seconds_count', { operation: '/fhir/Claim/$submit', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain(id);
    const delta = (name: string, labels: Record<string, string>) => (sample(text, name, labels) ?? 0) - (sample(before, name, labels) ?? 0);
    // The fixture's request pends under CP.PHAR.244 in both protocols.
    expect(delta('pa_decisions_total', { source: 'pas', policy: 'cp-phar-244', outcome: 'pend' })).toBe(1);
    expect(delta('pa_decisions_total', { source: 'crd', policy: 'cp-phar-244', outcome: 'pend' })).toBe(1);
    expect(sample(text, 'pa_outbox_depth')).toBe(7);
    expect(delta('pa_delivery_failures_total', {})).toBe(2);
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
  });

  test('METRICS_TOKEN protects /metrics', async () => {
    const ops = loadOpsConfig({ METRICS_TOKEN: 'scrape-secret' });
    const guarded = withSettings(t, { ops });
    try {
      expect((await request(guarded.app).get('/metrics')).status).toBe(401);
      expect((await request(guarded.app).get('/metrics').set('Authorization', 'Bearer wrong')).status).toBe(401);
      expect((await request(guarded.app).get('/metrics').set('Authorization', 'Bearer scrape-secret')).status).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});
