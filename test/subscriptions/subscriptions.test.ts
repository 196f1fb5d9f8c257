/**
 * PAS Subscriptions (issue 8, item 2) on PGlite and PostgreSQL: the REST interactions and their
 * 400s, the handshake, notification shapes against the IG examples, event numbers, the
 * orgIdentifier filter, retries with backoff and the error state, and the outbox delivering once.
 */
import request from 'supertest';
import type { Bundle, Parameters } from 'fhir/r4';
import { createDispatcher } from '../../src/subscriptions/dispatcher';
import { backoffMs } from '../../src/subscriptions/dispatcher';
import { silentLogger } from '../../src/logger';
import {
  appOn,
  backends,
  decide,
  eventKey,
  eventNumberOf,
  expectDeliveredOnce,
  NPI,
  outboxSummary,
  OKAFOR_NPI,
  PAS_TOPIC,
  param,
  recordingSender,
  RIVERSIDE_NPI,
  sleep,
  startReceiver,
  submitPended,
  subscriptionFor,
  typeOf,
  until,
  type BackendApp,
  type Receiver,
} from './support';

const FHIR = 'http://pa.test/fhir';

describe.each(backends)('PAS Subscriptions on $name', (backend) => {
  const it_ = backend.enabled ? it : it.skip;
  let t: BackendApp;
  let receiver: Receiver;

  beforeAll(async () => {
    if (!backend.enabled) return;
    t = await appOn(backend);
    receiver = await startReceiver();
  }, 60_000);
  afterAll(async () => {
    if (!backend.enabled) return;
    await receiver.close();
    await t.close();
  });
  beforeEach(() => {
    if (!backend.enabled) return;
    receiver.mode = 'ok';
    receiver.received.length = 0;
  });

  const dispatcher = (retryBaseMs = 80, retryMaxMs = 1000) =>
    createDispatcher({ store: t.ctx.store, fhirBase: FHIR, logger: silentLogger, pollMs: 0, timeoutMs: 500, maxAttempts: 3, retryBaseMs, retryMaxMs });

  const subscribe = async (body: Record<string, unknown>) => request(t.app).post('/fhir/Subscription').type('application/fhir+json').send(body);

  /** Removes every subscription so that each test counts only its own notifications. */
  const clearSubscriptions = async () => {
    for (const s of await t.ctx.store.listSubscriptions()) await t.ctx.store.deleteSubscription(s.id);
  };

  it_('the CapabilityStatement lists $inquire, Subscription with the PAS topic (subscriptiontopic-canonical) and $status', async () => {
    const res = await request(t.app).get('/fhir/metadata');
    const resources = res.body.rest[0].resource as Array<{ type: string; extension?: unknown[]; operation?: Array<{ name: string; definition: string }> }>;
    expect(resources.find((r) => r.type === 'Claim')!.operation).toContainEqual({
      name: 'inquire',
      definition: 'http://hl7.org/fhir/us/davinci-pas/OperationDefinition/Claim-inquiry|2.2.1',
    });
    const subscription = resources.find((r) => r.type === 'Subscription')!;
    // As the PAS IG's IntermediaryCapabilities declares it.
    expect(subscription.extension).toEqual([
      {
        url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/capabilitystatement-subscriptiontopic-canonical',
        valueCanonical: 'http://hl7.org/fhir/us/davinci-pas/SubscriptionTopic/PASSubscriptionTopic',
      },
    ]);
    expect(subscription.operation!.map((o) => o.name)).toEqual(['status']);
  });

  it_('create: handshake to the endpoint with channel.header, then active; read, search and $status', async () => {
    await clearSubscriptions();
    const res = await subscribe(subscriptionFor(receiver.url));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ resourceType: 'Subscription', status: 'active', criteria: PAS_TOPIC });
    expect(res.headers.location).toBe(`${FHIR}/Subscription/${res.body.id}`);

    expect(receiver.received).toHaveLength(1);
    const [handshake] = receiver.received;
    expect(handshake!.headers.authorization).toBe('Bearer hook-secret');
    expect(handshake!.headers['content-type']).toMatch(/^application\/fhir\+json/);
    expect(handshake!.body).toMatchObject({ resourceType: 'Bundle', type: 'history' });
    expect(handshake!.body.entry).toHaveLength(1);
    expect(typeOf(handshake!.body)).toBe('handshake');
    expect(param(handshake!.body, 'subscription')).toEqual({ name: 'subscription', valueReference: { reference: `${FHIR}/Subscription/${res.body.id}` } });
    expect(param(handshake!.body, 'topic')).toEqual({ name: 'topic', valueCanonical: PAS_TOPIC });

    const read = await request(t.app).get(`/fhir/Subscription/${res.body.id}`);
    expect(read.status).toBe(200);
    expect(read.body.status).toBe('active');
    const search = await request(t.app).get('/fhir/Subscription');
    expect(search.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 1 });
    const status = await request(t.app).get(`/fhir/Subscription/${res.body.id}/$status`);
    expect(status.status).toBe(200);
    const parameters = status.body.entry[0].resource as Parameters;
    expect(parameters.parameter?.find((p) => p.name === 'type')?.valueCode).toBe('query-status');
    expect(parameters.parameter?.find((p) => p.name === 'status')?.valueCode).toBe('active');
    expect(parameters.parameter?.find((p) => p.name === 'events-since-subscription-start')?.valueString).toBe('0');
  });

  it_('a handshake the endpoint does not answer 2xx leaves the Subscription in error, with the reason', async () => {
    receiver.mode = 'fail';
    const res = await subscribe(subscriptionFor(receiver.url));
    expect(res.status).toBe(201);
    expect(res.body.status).toBe('error');
    expect(res.body.error).toMatch(/handshake failed: endpoint answered HTTP 503/);
    const status = await request(t.app).get(`/fhir/Subscription/${res.body.id}/$status`);
    expect(status.body.entry[0].resource.parameter.find((p: { name: string }) => p.name === 'error').valueCodeableConcept.text).toMatch(/503/);

    // A PUT re-verifies it: a new handshake, now answered, makes it active.
    receiver.mode = 'ok';
    const put = await request(t.app).put(`/fhir/Subscription/${res.body.id}`).type('application/fhir+json').send({ ...subscriptionFor(receiver.url), id: res.body.id });
    expect(put.status).toBe(200);
    expect(put.body.status).toBe('active');
    expect(put.body.error).toBeUndefined();
    expect((await request(t.app).delete(`/fhir/Subscription/${res.body.id}`)).status).toBe(204);
    expect((await request(t.app).get(`/fhir/Subscription/${res.body.id}`)).status).toBe(404);
  });

  it_.each([
    ['a websocket channel', { channel: { type: 'websocket', endpoint: 'http://127.0.0.1:1/x' } }, 'Subscription.channel.type', /rest-hook/],
    [
      'id-only content',
      {
        channel: {
          type: 'rest-hook',
          endpoint: 'http://127.0.0.1:1/x',
          payload: 'application/fhir+json',
          _payload: { extension: [{ url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content', valueCode: 'id-only' }] },
        },
      },
      'Subscription.channel._payload.extension',
      /full-resource/,
    ],
    ['another topic', { criteria: 'http://example.org/SubscriptionTopic/other' }, 'Subscription.criteria', /PAS topic/],
    ['no orgIdentifier filter', { _criteria: undefined }, 'Subscription._criteria.extension', /orgIdentifier/],
    ['an ftp endpoint', { channel: { type: 'rest-hook', endpoint: 'ftp://127.0.0.1/x' } }, 'Subscription.channel.endpoint', /http\(s\)/],
    ['a Host header', { channel: { type: 'rest-hook', endpoint: 'http://127.0.0.1:1/x', header: ['Host: evil'] } }, 'Subscription.channel.header[0]', /Host/],
  ])('400 for %s, naming the element', async (_name, change, expression, message) => {
    const body = { ...subscriptionFor('http://127.0.0.1:1/x'), ...change };
    const res = await subscribe(body);
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].expression).toEqual([expression]);
    expect(res.body.issue[0].diagnostics).toMatch(message);
  });

  it_('a decision on a pended request notifies: history Bundle, SubscriptionStatus first, the PAS response second; event numbers count up', async () => {
    await clearSubscriptions();
    const created = await subscribe(subscriptionFor(receiver.url));
    const id = created.body.id as string;
    const { claimId, claimResponse } = await submitPended(t.app);
    expect(claimResponse.disposition).toBeTruthy();

    await decide(t.ctx.store, claimId, 'approved after review');
    expect(await t.ctx.store.outboxStats()).toEqual({ undispatched: 1, pending: 0, failed: 0 });
    const ticks: unknown[] = [];
    const d = createDispatcher({
      store: t.ctx.store, fhirBase: FHIR, logger: silentLogger, pollMs: 0, timeoutMs: 500, maxAttempts: 3, retryBaseMs: 80, retryMaxMs: 1000,
      onTick: (tick) => ticks.push(tick),
    });
    const tick = await d.runOnce();
    expect(tick).toMatchObject({ fannedOut: 1, delivered: 1 });
    // The metrics hook sees the outbox depth after the tick.
    expect(ticks).toEqual([{ fannedOut: 1, delivered: 1, failedAttempts: 0, gaveUp: 0, undispatched: 0, pending: 0, failed: 0 }]);
    await decide(t.ctx.store, claimId, 'period corrected');
    await d.runOnce();

    const events = receiver.events();
    expect(events).toHaveLength(2);
    const [first, second] = events.map((e) => e.body) as [Bundle, Bundle];
    expect(events[0]!.headers.authorization).toBe('Bearer hook-secret');

    // Shape of the PAS IG's Bundle-PASSubscriptionNotification and its SubscriptionStatus Parameters.
    const igParameterNames = ['subscription', 'topic', 'type', 'events-since-subscription-start', 'notification-event'];
    expect(first.type).toBe('history');
    expect(first.entry).toHaveLength(2);
    const status = first.entry![0]!.resource as Parameters;
    expect(status.resourceType).toBe('Parameters');
    const names = status.parameter!.map((p) => p.name);
    for (const name of igParameterNames) expect(names).toContain(name);
    const event = status.parameter!.find((p) => p.name === 'notification-event')!;
    expect(event.part!.map((p) => p.name)).toEqual(['event-number', 'timestamp', 'focus']);
    expect(typeOf(first)).toBe('event-notification');
    expect(param(first, 'subscription')).toEqual({ name: 'subscription', valueReference: { reference: `${FHIR}/Subscription/${id}` } });
    expect(param(first, 'events-since-subscription-start')).toEqual({ name: 'events-since-subscription-start', valueString: '1' });
    expect(event.part!.find((p) => p.name === 'timestamp')!.valueInstant).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    // focus points at the second entry, which is the full PAS response Bundle of that version.
    expect(event.part!.find((p) => p.name === 'focus')!.valueReference!.reference).toBe(first.entry![1]!.fullUrl);
    const response = first.entry![1]!.resource as Bundle;
    expect(response).toMatchObject({ resourceType: 'Bundle', type: 'collection' });
    expect(response.entry![0]!.resource).toMatchObject({ resourceType: 'ClaimResponse', id: claimResponse.id, disposition: 'approved after review (version 2)' });
    expect(first.entry![0]!.request).toEqual({ method: 'GET', url: `${FHIR}/Subscription/${id}/$status` });

    expect(events.map((e) => eventNumberOf(e.body))).toEqual([1, 2]);
    expect((second.entry![1]!.resource as Bundle).entry![0]!.resource).toMatchObject({ disposition: 'period corrected (version 3)' });
    const notes = await t.ctx.store.listNotifications(id);
    expect(notes.map((n) => [n.eventNumber, n.status, n.attempts])).toEqual([
      [1, 'delivered', 1],
      [2, 'delivered', 1],
    ]);
    const statusOp = await request(t.app).get(`/fhir/Subscription/${id}/$status`);
    expect(statusOp.body.entry[0].resource.parameter.find((p: { name: string }) => p.name === 'events-since-subscription-start').valueString).toBe('2');
  });

  it_('orgIdentifier matches the Claim.provider organization or the PractitionerRole practitioner, with or without system; not another organization', async () => {
    await clearSubscriptions();
    const subs = {
      orgValue: (await subscribe(subscriptionFor(receiver.url, RIVERSIDE_NPI))).body.id as string,
      orgToken: (await subscribe(subscriptionFor(receiver.url, `${NPI}|${RIVERSIDE_NPI}`))).body.id as string,
      practitioner: (await subscribe(subscriptionFor(receiver.url, OKAFOR_NPI))).body.id as string,
      other: (await subscribe(subscriptionFor(receiver.url, '1234567893'))).body.id as string,
      wrongSystem: (await subscribe(subscriptionFor(receiver.url, `urn:oid:1.2.3|${RIVERSIDE_NPI}`))).body.id as string,
    };
    const { claimId } = await submitPended(t.app);
    await decide(t.ctx.store, claimId);
    const tick = await dispatcher().runOnce();
    expect(tick).toMatchObject({ fannedOut: 1, delivered: 3 });
    const notified = new Set(receiver.events().map((e) => (param(e.body, 'subscription') as { valueReference: { reference: string } }).valueReference.reference.split('/').pop()));
    expect(notified).toEqual(new Set([subs.orgValue, subs.orgToken, subs.practitioner]));
  });

  it_('retries with exponential backoff, then the Subscription goes to error; re-activated, the event is delivered after all', async () => {
    await clearSubscriptions();
    const id = (await subscribe(subscriptionFor(receiver.url))).body.id as string;
    const { claimId } = await submitPended(t.app);
    await decide(t.ctx.store, claimId);
    receiver.mode = 'fail';
    // Backoffs of 600 ms and 1.2 s: "not due yet" must still hold after a slow tick on a loaded CI machine.
    const [base, max] = [600, 2000];
    const d = dispatcher(base, max);

    const first = await d.runOnce();
    expect(first).toMatchObject({ fannedOut: 1, delivered: 0, failedAttempts: 1, gaveUp: 0 });
    let [n] = await t.ctx.store.listNotifications(id);
    expect(n).toMatchObject({ status: 'pending', attempts: 1, lastError: 'endpoint answered HTTP 503' });
    // Not due again before the backoff has passed.
    expect((await d.runOnce()).failedAttempts).toBe(0);
    await sleep(backoffMs(1, base, max) + 40);
    expect((await d.runOnce()).failedAttempts).toBe(1);
    [n] = await t.ctx.store.listNotifications(id);
    expect(n!.attempts).toBe(2);
    const waitMs = Date.parse(n!.nextAttemptAt) - Date.now();
    expect(waitMs).toBeGreaterThan(base);
    expect(waitMs).toBeLessThanOrEqual(backoffMs(2, base, max) + 50);
    await sleep(waitMs + 40);
    expect(await d.runOnce()).toMatchObject({ failedAttempts: 1, gaveUp: 1 });
    [n] = await t.ctx.store.listNotifications(id);
    expect(n).toMatchObject({ status: 'failed', attempts: 3 });
    const sub = await request(t.app).get(`/fhir/Subscription/${id}`);
    expect(sub.body.status).toBe('error');
    expect(sub.body.error).toBe('endpoint answered HTTP 503');
    expect(receiver.events()).toHaveLength(0);

    receiver.mode = 'ok';
    const put = await request(t.app).put(`/fhir/Subscription/${id}`).type('application/fhir+json').send(subscriptionFor(receiver.url));
    expect(put.body.status).toBe('active');
    await d.runOnce();
    expect(receiver.events().map((e) => eventNumberOf(e.body))).toEqual([1]);
  });

  it_('with authentication configured later, an http endpoint is not posted to: the Subscription goes to error', async () => {
    await clearSubscriptions();
    const id = (await subscribe(subscriptionFor(receiver.url))).body.id as string;
    const { claimId } = await submitPended(t.app);
    await decide(t.ctx.store, claimId);
    const strict = createDispatcher({ store: t.ctx.store, fhirBase: FHIR, logger: silentLogger, pollMs: 0, timeoutMs: 500, maxAttempts: 3, retryBaseMs: 80, retryMaxMs: 1000, requireHttps: true });
    expect(await strict.runOnce()).toMatchObject({ delivered: 0, gaveUp: 1 });
    expect(receiver.events()).toHaveLength(0);
    expect((await t.ctx.store.getSubscription(id))).toMatchObject({ status: 'error', lastError: 'the endpoint is not https, which authentication requires' });
  });

  it_('a timeout counts as a failed attempt', async () => {
    await clearSubscriptions();
    const id = (await subscribe(subscriptionFor(receiver.url))).body.id as string;
    const { claimId } = await submitPended(t.app);
    await decide(t.ctx.store, claimId);
    receiver.mode = 'hang';
    const started = Date.now();
    expect(await dispatcher().runOnce()).toMatchObject({ delivered: 0, failedAttempts: 1 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect((await t.ctx.store.listNotifications(id))[0]!.lastError).toBe('no answer within 500 ms');
  });

  it_('events before a subscription started are not sent to it; two dispatchers on one store send each event once, in order', async () => {
    await clearSubscriptions();
    const early = await submitPended(t.app);
    await decide(t.ctx.store, early.claimId);
    await dispatcher().runOnce(); // fanned out to nobody
    const subscribed = await subscribe(subscriptionFor(receiver.url));
    expect(subscribed.body.status).toBe('active'); // the handshake went through
    const id = subscribed.body.id as string;
    const claims = [];
    for (let i = 0; i < 6; i++) claims.push((await submitPended(t.app)).claimId);
    for (const c of claims) await decide(t.ctx.store, c);
    // Timeouts long enough for a loaded machine; a retried event may arrive twice (at least once).
    const { sender, attempts } = recordingSender();
    const make = () => createDispatcher({ store: t.ctx.store, fhirBase: FHIR, logger: silentLogger, pollMs: 0, timeoutMs: 5000, maxAttempts: 10, retryBaseMs: 50, retryMaxMs: 500, sender });
    const [a, b] = [make(), make()];
    await until(async () => {
      await Promise.all([a.runOnce(), b.runOnce()]);
      return new Set(receiver.events().map((e) => eventNumberOf(e.body))).size >= 6;
    }, 20_000, () => outboxSummary(t.ctx.store, [id]));
    await Promise.all([a.runOnce(), b.runOnce()]);
    expect([...new Set(receiver.events().map((e) => eventNumberOf(e.body)))]).toEqual([1, 2, 3, 4, 5, 6]);
    expectDeliveredOnce(receiver, attempts, 6);
    expect((await t.ctx.store.listNotifications(id)).every((n) => n.status === 'delivered')).toBe(true);
  });
});

describe('two server instances on one PostgreSQL', () => {
  const enabled = backends[1]!.enabled;
  const it_ = enabled ? it : it.skip;

  it_('never both send an event: two stores (two pools), two dispatchers, every notification exactly once', async () => {
    const backend = backends[1]!;
    const one = await appOn(backend);
    const two = await appOn(backend, {}, { url: one.databaseUrl! });
    const receiver = await startReceiver();
    try {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const created = await request(one.app).post('/fhir/Subscription').type('application/fhir+json').send(subscriptionFor(receiver.url));
        expect(created.body.status).toBe('active'); // the handshake went through
        ids.push(created.body.id);
      }
      const claims: string[] = [];
      for (let i = 0; i < 10; i++) claims.push((await submitPended(i % 2 ? one.app : two.app)).claimId);
      await Promise.all(claims.map((c, i) => decide((i % 2 ? two : one).ctx.store, c)));
      // Timeouts long enough for a loaded machine; a retried event may arrive twice (at least once).
      const { sender, attempts } = recordingSender();
      const make = (store: typeof one.ctx.store) =>
        createDispatcher({ store, fhirBase: FHIR, logger: silentLogger, pollMs: 0, timeoutMs: 5000, maxAttempts: 10, retryBaseMs: 50, retryMaxMs: 500, batchSize: 4, sender });
      const [a, b] = [make(one.ctx.store), make(two.ctx.store)];
      const distinct = () => new Set(receiver.events().map((e) => eventKey(e.body))).size;
      await until(async () => {
        await Promise.all([a.runOnce(), b.runOnce(), a.runOnce(), b.runOnce()]);
        return distinct() >= 30;
      }, 40_000, () => outboxSummary(one.ctx.store, ids));
      await sleep(100);
      await Promise.all([a.runOnce(), b.runOnce()]);
      expectDeliveredOnce(receiver, attempts, 30);
      for (const id of ids) {
        const numbers = receiver.events()
          .filter((e) => (param(e.body, 'subscription') as { valueReference: { reference: string } }).valueReference.reference.endsWith(id))
          .map((e) => eventNumberOf(e.body));
        expect([...new Set(numbers)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      }
      expect(await one.ctx.store.outboxStats()).toEqual({ undispatched: 0, pending: 0, failed: 0 });
    } finally {
      await receiver.close();
      await two.ctx.store.close();
      await one.close();
    }
  }, 60_000);
});
