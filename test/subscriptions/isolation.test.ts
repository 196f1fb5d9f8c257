/**
 * Subscriptions with SMART clients: a client subscribes only for its own organization, sees and
 * changes only its own Subscriptions (another's id is 404), and its endpoint must be https.
 */
import request from 'supertest';
import { smartClients, type SmartClients } from '../support/smart-clients';
import { appOn, backends, RIVERSIDE_NPI, subscriptionFor, type BackendApp } from './support';

const OTHER_NPI = '1234567893';
const SCOPE = 'system/Subscription.cruds';
let t: BackendApp;
let clients: SmartClients;

beforeAll(async () => {
  clients = await smartClients([['riverside', RIVERSIDE_NPI], ['other-clinic', OTHER_NPI], ['reader', RIVERSIDE_NPI]], SCOPE);
  clients.configs[2]!.scope = 'system/Subscription.rs';
  t = await appOn(backends[0]!, { smartClients: clients.configs });
}, 60_000);
afterAll(() => t.close());

const as = (token: string) => ({
  post: (body: object) => request(t.app).post('/fhir/Subscription').set('Authorization', `Bearer ${token}`).type('application/fhir+json').send(body),
  get: (url: string) => request(t.app).get(url).set('Authorization', `Bearer ${token}`),
  put: (url: string, body: object) => request(t.app).put(url).set('Authorization', `Bearer ${token}`).type('application/fhir+json').send(body),
  del: (url: string) => request(t.app).delete(url).set('Authorization', `Bearer ${token}`),
});

// No https receiver runs here: the handshake fails and the Subscription is in error, which is enough to own one.
const HTTPS_ENDPOINT = 'https://127.0.0.1:9/hook';

test('with authentication on, the endpoint must be https (400 naming channel.endpoint)', async () => {
  const riverside = as(await clients.token(t.app, 'riverside', SCOPE));
  const res = await riverside.post(subscriptionFor('http://127.0.0.1:9/hook'));
  expect(res.status).toBe(400);
  expect(res.body.issue[0]).toMatchObject({ code: 'security', expression: ['Subscription.channel.endpoint'] });
});

test("a client subscribes only for its own organization (403), and another organization's Subscription is 404 to it", async () => {
  const riverside = as(await clients.token(t.app, 'riverside', SCOPE));
  const other = as(await clients.token(t.app, 'other-clinic', SCOPE));

  const foreign = await other.post(subscriptionFor(HTTPS_ENDPOINT, RIVERSIDE_NPI));
  expect(foreign.status).toBe(403);
  expect(foreign.body.issue[0].expression).toEqual(['Subscription._criteria.extension']);

  const mine = await riverside.post(subscriptionFor(HTTPS_ENDPOINT, `http://hl7.org/fhir/sid/us-npi|${RIVERSIDE_NPI}`));
  expect(mine.status).toBe(201);
  expect(mine.body.status).toBe('error');
  const id = mine.body.id as string;
  const theirs = await other.post(subscriptionFor(HTTPS_ENDPOINT, OTHER_NPI));
  expect(theirs.status).toBe(201);

  for (const url of [`/fhir/Subscription/${id}`, `/fhir/Subscription/${id}/$status`]) {
    expect((await riverside.get(url)).status).toBe(200);
    expect((await other.get(url)).status).toBe(404);
  }
  expect((await other.put(`/fhir/Subscription/${id}`, subscriptionFor(HTTPS_ENDPOINT, OTHER_NPI))).status).toBe(404);
  expect((await other.del(`/fhir/Subscription/${id}`)).status).toBe(404);
  const listed = await riverside.get('/fhir/Subscription');
  expect(listed.body.entry.map((e: { resource: { id: string } }) => e.resource.id)).toEqual([id]);
  expect((await other.get('/fhir/Subscription')).body.entry.map((e: { resource: { id: string } }) => e.resource.id)).toEqual([theirs.body.id]);
  expect((await riverside.del(`/fhir/Subscription/${id}`)).status).toBe(204);
});

test('scopes: system/Subscription.rs reads and searches but may not create (403)', async () => {
  const reader = as(await clients.token(t.app, 'reader', 'system/Subscription.rs'));
  expect((await reader.get('/fhir/Subscription')).status).toBe(200);
  const res = await reader.post(subscriptionFor(HTTPS_ENDPOINT));
  expect(res.status).toBe(403);
  expect(res.body.issue[0].diagnostics).toMatch(/system\/Subscription\.c/);
});
