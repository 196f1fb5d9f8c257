/** SMART Backend Services (backend-services.html): token endpoint, bearer check, scopes, SSRF guard, open mode. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
type KeyLike = Parameters<SignJWT['sign']>[0];
import { createTestApp, EVALUATION_DATE, type TestApp } from '../support/app';
import { assertNotOpen } from '../../src/server';
import { loadConfig } from '../../src/config';
import { silentLogger } from '../../src/logger';

const TOKEN_URL = 'http://pa.test/auth/token';
let t: TestApp;
let key: KeyLike;
let forger: KeyLike;

async function assertion(claims: Record<string, unknown> = {}, signer = key) {
  const now = Math.floor(EVALUATION_DATE.getTime() / 1000);
  return new SignJWT({ jti: crypto.randomUUID(), ...claims })
    .setProtectedHeader({ alg: 'ES384', kid: 'k1' })
    .setIssuer('ehr-1').setSubject('ehr-1').setAudience((claims.aud as string) ?? TOKEN_URL)
    .setExpirationTime((claims.exp as number) ?? now + 240)
    .sign(signer);
}
const tokenRequest = (jwt: string, scope = 'system/Claim.c system/ClaimResponse.r') =>
  request(t.app).post('/auth/token').type('form').send({
    grant_type: 'client_credentials', scope,
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: jwt,
  });

beforeAll(async () => {
  const pair = await generateKeyPair('ES384', { extractable: true });
  key = pair.privateKey as KeyLike;
  forger = (await generateKeyPair('ES384')).privateKey as KeyLike;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES384' };
  t = await createTestApp({
    smartClients: [{ clientId: 'ehr-1', jwks: { keys: [jwk] }, organization: { system: 'http://hl7.org/fhir/sid/us-npi', value: '1234567893' }, scope: 'system/Claim.c system/ClaimResponse.r system/QuestionnaireResponse.c', fhirServers: ['https://ehr.example.org/fhir'] }],
  });
}, 60_000);
afterAll(() => t.close());

test('discovery advertises the token endpoint, client_credentials and private_key_jwt', async () => {
  const res = await request(t.app).get('/fhir/.well-known/smart-configuration');
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ token_endpoint: TOKEN_URL, grant_types_supported: ['client_credentials'], token_endpoint_auth_methods_supported: ['private_key_jwt'] });
});

test('a valid assertion gets a bearer token; a replayed, forged, expired or wrong-audience one gets 401', async () => {
  const jwt = await assertion();
  const ok = await tokenRequest(jwt);
  expect(ok.status).toBe(200);
  expect(ok.body).toMatchObject({ token_type: 'bearer', expires_in: 300, scope: 'system/Claim.c system/ClaimResponse.r' });
  expect((await tokenRequest(jwt)).body.error).toBe('invalid_client');
  for (const bad of [await assertion({}, forger), await assertion({ exp: Math.floor(EVALUATION_DATE.getTime() / 1000) - 120 }), await assertion({ aud: 'http://other/token' }), await assertion({ exp: Math.floor(EVALUATION_DATE.getTime() / 1000) + 3600 })]) {
    const res = await tokenRequest(bad);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  }
  expect((await tokenRequest(await assertion(), 'system/Subscription.c')).body.error).toBe('invalid_scope');
});

test('/fhir needs a token (401 + WWW-Authenticate), the right scope (403); metadata stays open; reads are audited', async () => {
  const none = await request(t.app).get('/fhir/ClaimResponse/x');
  expect(none.status).toBe(401);
  expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
  expect(none.body.resourceType).toBe('OperationOutcome');
  expect((await request(t.app).get('/fhir/metadata')).status).toBe(200);
  const token = (await tokenRequest(await assertion())).body.access_token as string;
  const read = await request(t.app).get('/fhir/ClaimResponse/nope').set('Authorization', `Bearer ${token}`);
  expect(read.status).toBe(404);
  const audit = await t.ctx.store.listAudit(5);
  expect(audit[0]).toMatchObject({ action: 'pas.read', actor: 'ehr-1', outcome: 'ClaimResponse/nope', status: 404 });
  const wrong = await request(t.app).get('/fhir/Questionnaire').set('Authorization', `Bearer ${token}`);
  expect(wrong.status).toBe(403);
});

test('$populate with an unlisted fhirServer is refused and no connection is made (SSRF)', async () => {
  let connections = 0;
  const server = http.createServer((_q, s) => s.end('{}'));
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`;
  const token = (await tokenRequest(await assertion(), 'system/QuestionnaireResponse.c')).body.access_token as string;
  const res = await request(t.app).post('/fhir/Questionnaire/$populate').set('Authorization', `Bearer ${token}`).type('application/fhir+json')
    .send({ resourceType: 'Parameters', parameter: [
      { name: 'identifier', valueIdentifier: { value: 'x' } },
      { name: 'canonical', valueCanonical: 'http://pa.example.org/fhir/Questionnaire/cp-phar-244-kineret' },
      { name: 'subject', valueReference: { reference: 'Patient/p1' } },
      { name: 'fhirServer', valueUrl: url }] });
  server.close();
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  expect(connections).toBe(0);
});

test('a DTR operation by an authenticated client is audited with the client as actor, never the patient', async () => {
  const chart = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Patient', id: 'p-audit-1' } }] };
  const token = (await tokenRequest(await assertion(), 'system/QuestionnaireResponse.c')).body.access_token as string;
  const res = await request(t.app).post('/fhir/Questionnaire/cp-phar-244-kineret/$populate').set('Authorization', `Bearer ${token}`).type('application/fhir+json')
    .send({ resourceType: 'Parameters', parameter: [
      { name: 'subject', valueReference: { reference: 'Patient/p-audit-1' } },
      { name: 'context', part: [{ name: 'name', valueString: 'data' }, { name: 'content', resource: chart }] }] });
  expect(res.status).toBe(200);
  const rows = (await t.ctx.store.listAudit(20)).filter((r) => r.requestId === res.headers['x-request-id']);
  expect(rows).toEqual([expect.objectContaining({ action: 'dtr.populate', actor: 'ehr-1', policyId: 'cp-phar-244', status: 200 })]);
  expect(JSON.stringify(rows)).not.toContain('p-audit-1');
});

test('NODE_ENV=production refuses to start open', () => {
  const config = loadConfig({ NODE_ENV: 'production' });
  expect(() => assertNotOpen(config, silentLogger)).toThrow(/refuses to start/);
});
