/**
 * CDS Hooks 2.0 client authentication over HTTP: the app with a trusted issuer pinned to a local
 * JWKS file. Every invalid token is a 401 OperationOutcome (and audited); a valid ES384 or RS384
 * token gets the answer. Tokens never reach the audit trail or the log.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import request from 'supertest';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import type { OperationOutcome } from 'fhir/r4';
import type express from 'express';
import type { Logger } from '../../src/logger';
import { createTestApp, EVALUATION_DATE, type TestApp } from '../support/app';
import { callHook, checkedApp, fixture, type CheckLog } from '../support/crd-client';

const ISS = 'https://ehr.riverside-health.example.org/cds-client';
const AUD = 'http://pa.test/cds-services/pa-order-sign';
const NOW = Math.floor(EVALUATION_DATE.getTime() / 1000);

let t: TestApp;
let app: express.Express;
let checks: CheckLog;
let tmp: string;
let es: CryptoKey;
let rs: CryptoKey;
let stranger: CryptoKey;
const logged: string[] = [];

beforeAll(async () => {
  const esPair = await generateKeyPair('ES384');
  const rsPair = await generateKeyPair('RS384');
  stranger = (await generateKeyPair('ES384')).privateKey;
  es = esPair.privateKey;
  rs = rsPair.privateKey;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crd-http-jwks-'));
  const jwksFile = path.join(tmp, 'jwks.json');
  const keys = [
    { ...(await exportJWK(esPair.publicKey)), kid: 'ehr-es384-1', alg: 'ES384', use: 'sig' },
    { ...(await exportJWK(rsPair.publicKey)), kid: 'ehr-rs384-1', alg: 'RS384', use: 'sig' },
  ];
  fs.writeFileSync(jwksFile, JSON.stringify({ keys }));
  t = await createTestApp({ trustedIssuers: [{ iss: ISS, jwksFile }] });
  const capture: Logger = {
    info: (m, f) => logged.push(JSON.stringify([m, f])),
    warn: (m, f) => logged.push(JSON.stringify([m, f])),
    error: (m, f) => logged.push(JSON.stringify([m, f])),
  };
  t.ctx.logger = capture;
  ({ app, checks } = checkedApp(t.app));
});

afterAll(async () => {
  await t.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

afterAll(() => {
  expect(checks.problems).toEqual([]);
  expect(checks.checked).toBeGreaterThan(0);
});

interface Spec {
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
  key?: CryptoKey;
  alg?: 'ES384' | 'RS384';
}

async function token(spec: Spec = {}): Promise<string> {
  const alg = spec.alg ?? 'ES384';
  const claims = { iss: ISS, sub: 'riverside-ehr', aud: AUD, iat: NOW - 5, exp: NOW + 295, jti: crypto.randomUUID(), ...spec.claims };
  const header = { alg, typ: 'JWT', kid: alg === 'ES384' ? 'ehr-es384-1' : 'ehr-rs384-1', ...spec.header };
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(spec.key ?? (alg === 'ES384' ? es : rs));
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const claims = (extra: Record<string, unknown> = {}) => ({ iss: ISS, aud: AUD, iat: NOW - 5, exp: NOW + 295, jti: crypto.randomUUID(), ...extra });

function call(authorization: string | undefined, body = fixture('order-sign-kineret')) {
  return callHook(app, body, authorization === undefined ? {} : { headers: { Authorization: authorization } });
}

async function expect401(authorization: string | undefined, text: RegExp): Promise<void> {
  const body = fixture('order-sign-kineret');
  const res = await call(authorization, body);
  expect(res.status).toBe(401);
  const outcome = res.body as OperationOutcome;
  expect(outcome.issue[0]).toMatchObject({ severity: 'error', code: 'login', diagnostics: expect.stringMatching(text) });
  const rows = (await t.ctx.store.listAudit(500)).filter((r) => r.hookInstance === body.hookInstance);
  expect(rows).toEqual([expect.objectContaining({ action: 'crd.order-sign', status: 401, outcome: 'error', actor: null })]);
}

describe('CDS Hooks JWT over HTTP (trusted issuers configured)', () => {
  test('a valid ES384 token → 200 with the answer; the audit row names the client, not the patient', async () => {
    const body = fixture('order-sign-kineret');
    const res = await call(`Bearer ${await token()}`, body);
    expect(res.status).toBe(200);
    const rows = (await t.ctx.store.listAudit(500)).filter((r) => r.hookInstance === body.hookInstance);
    expect(rows).toEqual([expect.objectContaining({ status: 200, actor: `${ISS}|riverside-ehr`, outcome: 'pend' })]);
  });

  test('a valid RS384 token, aud as an array → 200', async () => {
    const res = await call(`Bearer ${await token({ alg: 'RS384', claims: { aud: [AUD, 'https://other.example.org'] } })}`);
    expect(res.status).toBe(200);
  });

  test('missing Authorization → 401', () => expect401(undefined, /Authorization: Bearer/));
  test('not a Bearer token → 401', async () => expect401(`Basic ${Buffer.from('ehr:secret').toString('base64')}`, /Authorization: Bearer/));
  test('wrong aud (another service) → 401', async () =>
    expect401(`Bearer ${await token({ claims: { aud: 'http://pa.test/cds-services/pa-order-select' } })}`, /audience/));
  test('wrong aud (another host) → 401', async () => expect401(`Bearer ${await token({ claims: { aud: 'https://pa.example.org/cds-services/pa-order-sign' } })}`, /audience/));
  test('expired → 401', async () => expect401(`Bearer ${await token({ claims: { iat: NOW - 900, exp: NOW - 600 } })}`, /expired/));
  test('issued in the future → 401', async () => expect401(`Bearer ${await token({ claims: { iat: NOW + 600, exp: NOW + 900 } })}`, /issue time|not yet/));
  test('no jti → 401', async () => expect401(`Bearer ${await token({ claims: { jti: undefined } })}`, /jti/));
  test('alg none → 401', async () => expect401(`Bearer ${b64({ alg: 'none', typ: 'JWT', kid: 'ehr-es384-1' })}.${b64(claims())}.`, /algorithm/));
  test('HS256 (signed with the public key material as a secret) → 401', async () => {
    const secret = new TextEncoder().encode(JSON.stringify(await exportJWK((await generateKeyPair('ES384')).publicKey)));
    const hs = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: 'ehr-es384-1' }).sign(secret);
    await expect401(`Bearer ${hs}`, /algorithm/);
  });
  test('unknown kid → 401', async () => expect401(`Bearer ${await token({ header: { kid: 'ehr-es384-9' } })}`, /kid/));
  test('no kid → 401', async () => expect401(`Bearer ${await token({ header: { kid: undefined } })}`, /kid/));
  test('signed by a key the issuer does not hold → 401', async () => expect401(`Bearer ${await token({ key: stranger })}`, /signature/));
  test('untrusted iss → 401', async () => expect401(`Bearer ${await token({ claims: { iss: 'https://rogue.example.org' } })}`, /issuer/));
  test('a jku pointing elsewhere does not make a key trusted → 401', async () =>
    expect401(`Bearer ${await token({ key: stranger, header: { jku: 'https://rogue.example.org/jwks.json' } })}`, /signature|jku/));

  test('replayed jti → 401 the second time', async () => {
    const once = await token();
    expect((await call(`Bearer ${once}`)).status).toBe(200);
    await expect401(`Bearer ${once}`, /already been used/);
  });

  test('feedback needs the token too; its aud is the feedback URL', async () => {
    const feedback = { feedback: [{ card: crypto.randomUUID(), outcome: 'accepted', outcomeTimestamp: '2026-11-20T15:00:00Z' }] };
    const unauth = await request(app).post('/cds-services/pa-order-sign/feedback').set('Content-Type', 'application/json').send(feedback);
    expect(unauth.status).toBe(401);
    const wrongAud = await request(app).post('/cds-services/pa-order-sign/feedback').set('Authorization', `Bearer ${await token()}`).set('Content-Type', 'application/json').send(feedback);
    expect(wrongAud.status).toBe(401);
    const ok = await request(app)
      .post('/cds-services/pa-order-sign/feedback')
      .set('Authorization', `Bearer ${await token({ claims: { aud: `${AUD}/feedback` } })}`)
      .set('Content-Type', 'application/json')
      .send(feedback);
    expect(ok.status).toBe(200);
  });

  test('discovery stays readable without a token', async () => {
    expect((await request(app).get('/cds-services')).status).toBe(200);
  });

  test('no token ever reaches the audit trail or the log', async () => {
    const secret = await token();
    await call(`Bearer ${secret}`);
    await call(`Bearer ${secret}`); // replay: rejected, still not logged
    const signature = secret.split('.')[2] ?? '';
    expect(signature.length).toBeGreaterThan(20);
    expect(JSON.stringify(await t.ctx.store.listAudit(500))).not.toContain(signature);
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.join('\n')).not.toContain(signature);
  });
});
