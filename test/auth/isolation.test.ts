/**
 * Per-organization isolation (issue 9): a SMART client submits, reads and resubmits only for the
 * provider organization it is registered for; another organization's ids answer 404, not 403.
 */
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { createTestApp, EVALUATION_DATE, type TestApp } from '../support/app';

type KeyLike = Parameters<SignJWT['sign']>[0];
const TOKEN_URL = 'http://pa.test/auth/token';
const RIVERSIDE_NPI = '1538276104'; // the Organization behind Claim.provider's PractitionerRole in the fixture
const bundle = JSON.parse(fs.readFileSync(path.join(__dirname, '../../fixtures/pas/kineret-request-base.json'), 'utf8')) as object;

let t: TestApp;
const keys: Record<string, KeyLike> = {};

async function token(clientId: string): Promise<string> {
  const now = Math.floor(EVALUATION_DATE.getTime() / 1000);
  const jwt = await new SignJWT({ jti: crypto.randomUUID() })
    .setProtectedHeader({ alg: 'ES384', kid: clientId })
    .setIssuer(clientId).setSubject(clientId).setAudience(TOKEN_URL).setExpirationTime(now + 240)
    .sign(keys[clientId] as KeyLike);
  const res = await request(t.app).post('/auth/token').type('form').send({
    grant_type: 'client_credentials', scope: 'system/Claim.cr system/ClaimResponse.r',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: jwt,
  });
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

beforeAll(async () => {
  const clients = [];
  for (const [clientId, npi] of [['riverside', RIVERSIDE_NPI], ['other-clinic', '1234567893']] as const) {
    const pair = await generateKeyPair('ES384', { extractable: true });
    keys[clientId] = pair.privateKey as KeyLike;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: clientId, alg: 'ES384' };
    clients.push({ clientId, jwks: { keys: [jwk] }, organization: { system: 'http://hl7.org/fhir/sid/us-npi', value: npi }, scope: 'system/Claim.cr system/ClaimResponse.r' });
  }
  t = await createTestApp({ smartClients: clients });
}, 60_000);
afterAll(() => t.close());

const submit = (bearer: string, body: object) =>
  request(t.app).post('/fhir/Claim/$submit').set('Authorization', `Bearer ${bearer}`).type('application/fhir+json').send(body);

test('a client submits only for its own organization: Claim.provider must carry its identifier (403 naming Claim.provider)', async () => {
  const res = await submit(await token('other-clinic'), bundle);
  expect(res.status).toBe(403);
  expect(res.body.resourceType).toBe('OperationOutcome');
  expect(res.body.issue[0].expression).toEqual(['Bundle.entry[0].resource.provider']);
});

test("another organization's Claim and ClaimResponse ids answer 404; the submitter reads them", async () => {
  const own = await token('riverside');
  const submitted = await submit(own, bundle);
  expect(submitted.status).toBe(200);
  const claimResponse = submitted.body.entry[0].resource;
  const claimId = /\/Claim\/([^/]+)$/.exec(claimResponse.request.reference)?.[1];
  expect(claimId).toBeTruthy();

  const other = await token('other-clinic');
  for (const url of [`/fhir/ClaimResponse/${claimResponse.id}`, `/fhir/Claim/${claimId}`]) {
    expect((await request(t.app).get(url).set('Authorization', `Bearer ${own}`)).status).toBe(200);
    const foreign = await request(t.app).get(url).set('Authorization', `Bearer ${other}`);
    expect(foreign.status).toBe(404);
    expect(foreign.body.resourceType).toBe('OperationOutcome');
  }
  const audit = await t.ctx.store.listAudit(10);
  expect(audit.some((a) => a.action === 'pas.read' && a.actor === 'other-clinic' && a.status === 404)).toBe(true);
});

test('the resubmission replay is per submitter: the same Claim from its submitter gets the stored answer', async () => {
  const own = await token('riverside');
  const first = await submit(own, bundle);
  const again = await submit(own, bundle);
  expect(again.status).toBe(200);
  expect(again.body.entry[0].resource.id).toBe(first.body.entry[0].resource.id);
});
