/**
 * The DTR app's payer token (src/auth/token-exchange.ts): with SMART_CLIENTS set, /fhir needs a
 * token; the app trades its EHR access token at /auth/token (RFC 8693 token exchange) and the
 * server checks it with the EHR's introspection endpoint (RFC 7662). Refused: no token, a forged
 * or expired EHR token, a token of another app or without a patient, an EHR not in DTR_EHRS (no
 * connection made), scopes beyond the DTR operations and $submit, and the payer token once expired.
 */
import request from 'supertest';
import { parseDtrEhrs, type DtrEhrConfig } from '../../src/config';
import { DTR_EXCHANGE_SCOPE, TOKEN_EXCHANGE_GRANT, ACCESS_TOKEN_TYPE } from '../../src/auth/token-exchange';
import { createTestApp, type TestApp } from '../support/app';
import { smartClients, NPI_SYSTEM } from '../support/smart-clients';
import { startTestEhr, type TestEhr } from '../support/ehr/ehr';

const APP = 'pa-dtr-app';
const PATIENT = 'pt-ra-partial';
let t: TestApp;
let ehr: TestEhr;
/** Added to the real clock (the EHR's tokens run on it too). */
let offset = 0;

const exchange = (fields: Record<string, string>) =>
  request(t.app)
    .post('/auth/token')
    .type('form')
    .send({ grant_type: TOKEN_EXCHANGE_GRANT, subject_token_type: ACCESS_TOKEN_TYPE, subject_issuer: ehr.fhirBase, client_id: APP, ...fields });

const packageRequest = (token?: string) => {
  const r = request(t.app).post('/fhir/Questionnaire/$questionnaire-package').set('content-type', 'application/fhir+json');
  return (token ? r.set('Authorization', `Bearer ${token}`) : r).send({ resourceType: 'Parameters', parameter: [] });
};

beforeAll(async () => {
  ehr = await startTestEhr([]);
  const backend = await smartClients([['ehr-backend', '1234567893']], 'system/Claim.c system/ClaimResponse.r');
  const ehrs: DtrEhrConfig[] = [
    { issuer: ehr.fhirBase, introspectionUrl: ehr.introspectionUrl, introspectionClientId: ehr.introspection.clientId, introspectionClientSecret: ehr.introspection.secret, organization: { system: NPI_SYSTEM, value: '1999999984' } },
    // The same EHR's introspection with the wrong credentials: it answers 401.
    { issuer: 'http://localhost:9/fhir', introspectionUrl: ehr.introspectionUrl, introspectionClientId: ehr.introspection.clientId, introspectionClientSecret: 'wrong', organization: { system: NPI_SYSTEM, value: '1999999984' } },
  ];
  t = await createTestApp({ smartClients: backend.configs, dtrEhrs: ehrs }, () => new Date(Date.now() + offset));
}, 60_000);
afterAll(async () => {
  await t?.close();
  await ehr?.close();
});

test('discovery offers the token exchange grant beside client_credentials', async () => {
  const res = await request(t.app).get('/fhir/.well-known/smart-configuration');
  expect(res.body.grant_types_supported).toEqual(['client_credentials', TOKEN_EXCHANGE_GRANT]);
});

test('/dtr/config.json tells the app where to exchange its launch', async () => {
  const res = await request(t.app).get('/dtr/config.json');
  expect(res.body).toMatchObject({ clientId: APP, payerTokenUrl: 'http://pa.test/auth/token' });
});

test('no token: 401 with a Bearer challenge', async () => {
  const res = await packageRequest();
  expect(res.status).toBe(401);
  expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
  expect(res.body.resourceType).toBe('OperationOutcome');
});

test('a live EHR launch token of the DTR app gets a short payer token for the DTR operations and $submit only', async () => {
  const before = ehr.introspections;
  const res = await exchange({ subject_token: ehr.issueToken(APP, PATIENT) });
  expect(res.status).toBe(200);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.body).toMatchObject({ token_type: 'bearer', expires_in: 300, scope: DTR_EXCHANGE_SCOPE, issued_token_type: ACCESS_TOKEN_TYPE });
  expect(ehr.introspections).toBe(before + 1);
  const token = res.body.access_token as string;

  // Past the bearer check: the empty Parameters is the operation's own 400.
  const pkg = await packageRequest(token);
  expect(pkg.status).toBe(400);
  // Nothing else: stored claims, inquiries, subscriptions are out of its scope.
  const auth = (r: request.Test) => r.set('Authorization', `Bearer ${token}`);
  expect((await auth(request(t.app).get('/fhir/ClaimResponse/x'))).status).toBe(403);
  expect((await auth(request(t.app).post('/fhir/Claim/$inquire')).send({})).status).toBe(403);
  expect((await auth(request(t.app).get('/fhir/Subscription'))).status).toBe(403);

  // Asking for more is refused; asking for less gives less.
  expect((await exchange({ subject_token: ehr.issueToken(APP, PATIENT), scope: 'system/ClaimResponse.r system/*.cruds' })).body.error).toBe('invalid_scope');
  const narrow = await exchange({ subject_token: ehr.issueToken(APP, PATIENT), scope: 'system/Claim.c system/ClaimResponse.r' });
  expect(narrow.body.scope).toBe('system/Claim.c');
  expect((await packageRequest(narrow.body.access_token as string)).status).toBe(403);
});

test('the payer token lives no longer than the EHR token, and is refused once expired', async () => {
  const short = await exchange({ subject_token: ehr.issueToken(APP, PATIENT, 60) });
  expect(short.status).toBe(200);
  expect(short.body.expires_in).toBeLessThanOrEqual(60);
  const full = (await exchange({ subject_token: ehr.issueToken(APP, PATIENT) })).body.access_token as string;
  offset = 301_000;
  try {
    const res = await packageRequest(full);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain('invalid_token');
  } finally {
    offset = 0;
  }
});

test('forged, expired, another app’s or patient-less EHR tokens are refused', async () => {
  const cases: Array<[string, string]> = [
    ['forged', 'not-a-token-the-ehr-issued'],
    ['expired', ehr.issueToken(APP, PATIENT, -5)],
    ['another app', ehr.issueToken('some-other-app', PATIENT)],
    ['no patient', ehr.issueToken(APP, undefined)],
  ];
  for (const [label, token] of cases) {
    const res = await exchange({ subject_token: token });
    expect({ label, status: res.status, error: res.body.error }).toEqual({ label, status: 400, error: 'invalid_grant' });
    expect(res.body.access_token).toBeUndefined();
  }
  const refusal = (await exchange({ subject_token: ehr.issueToken('some-other-app', PATIENT) })).body.error_description as string;
  expect(refusal).toContain('another app');
});

test('an EHR not in DTR_EHRS is refused without any connection; a wrong client_id or missing fields are refused', async () => {
  const before = ehr.introspections;
  const untrusted = await exchange({ subject_token: ehr.issueToken(APP, PATIENT), subject_issuer: 'https://ehr.elsewhere.example/fhir' });
  expect(untrusted.status).toBe(400);
  expect(untrusted.body).toMatchObject({ error: 'invalid_grant' });
  expect(untrusted.body.error_description).toContain('is not configured');
  expect(ehr.introspections).toBe(before);

  expect((await exchange({ subject_token: ehr.issueToken(APP, PATIENT), client_id: 'some-other-app' })).status).toBe(401);
  expect((await exchange({ subject_token: '' })).body.error).toBe('invalid_request');
  expect((await exchange({ subject_token: 'x', subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' })).body.error).toBe('invalid_request');
  expect((await exchange({ subject_token: 'x', subject_issuer: '' })).body.error).toBe('invalid_request');
});

test('an introspection endpoint that refuses the payer: 503 temporarily_unavailable, no token', async () => {
  const res = await exchange({ subject_token: ehr.issueToken(APP, PATIENT), subject_issuer: 'http://localhost:9/fhir' });
  expect(res.status).toBe(503);
  expect(res.body).toMatchObject({ error: 'temporarily_unavailable' });
  expect(res.body.error_description).toContain('HTTP 401');
});

test('DTR_EHRS configuration: https only (loopback http for tests), required fields named', () => {
  const entry = { issuer: 'https://ehr.example.org/fhir/', introspectionUrl: 'https://ehr.example.org/introspect', introspectionClientId: 'payer', introspectionClientSecret: 's', organization: { system: NPI_SYSTEM, value: '1' } };
  expect(parseDtrEhrs(JSON.stringify([entry]))[0]!.issuer).toBe('https://ehr.example.org/fhir');
  expect(() => parseDtrEhrs(JSON.stringify([{ ...entry, issuer: 'http://ehr.example.org/fhir' }]))).toThrow('DTR_EHRS[0].issuer must be an https URL');
  expect(() => parseDtrEhrs(JSON.stringify([{ ...entry, introspectionClientSecret: '' }]))).toThrow('introspectionClientSecret');
  expect(() => parseDtrEhrs(JSON.stringify([{ ...entry, organization: undefined }]))).toThrow('organization');
  expect(() => parseDtrEhrs(JSON.stringify([entry, entry]))).toThrow('listed twice');
});
