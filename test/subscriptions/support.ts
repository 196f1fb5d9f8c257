/**
 * What the subscription suites share: the app on PGlite or on PostgreSQL (own schema), a rest-hook
 * receiver on loopback that can be told to fail or hang, and a reviewer's decision on a pended claim.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { Bundle, ClaimResponse } from 'fhir/r4';
import request from 'supertest';
import { loadConfig, type Config } from '../../src/config';
import { createApp, type AppContext } from '../../src/http/app';
import { allRoutes } from '../../src/http/routes';
import { silentLogger } from '../../src/logger';
import { buildContext } from '../../src/server';
import type { ClaimRecord, Store } from '../../src/store';
import { sendNotification, type Sender } from '../../src/subscriptions/sender';
import { EVALUATION_DATE } from '../support/app';
import { DATABASE_URL, freshSchema } from '../support/postgres';

export const RIVERSIDE_NPI = '1538276104';
export const OKAFOR_NPI = '1992847365';
export const NPI = 'http://hl7.org/fhir/sid/us-npi';
export const PAS_TOPIC = 'http://hl7.org/fhir/us/davinci-pas/SubscriptionTopic/PASSubscriptionTopic';

export const readJson = <T = Record<string, unknown>>(file: string): T => JSON.parse(fs.readFileSync(file, 'utf8')) as T;
export const kineretRequest = (): Bundle => readJson<Bundle>(path.join(__dirname, '../../fixtures/pas/kineret-request-base.json'));

/** The kineret request under a fresh Claim identifier (so it is not a resubmission). */
export function freshRequest(): Bundle {
  const bundle = kineretRequest();
  const claim = bundle.entry?.[0]?.resource as { identifier?: Array<{ system?: string; value?: string }>; id?: string };
  const suffix = crypto.randomBytes(4).toString('hex');
  claim.identifier = [{ system: 'http://riverside-rheum.example.org/fhir/identifier/prior-auth-request', value: `PA-${suffix}` }];
  claim.id = `claim-${suffix}`;
  return bundle;
}

export interface BackendApp {
  app: Express;
  ctx: AppContext;
  config: Config;
  close(): Promise<void>;
}

export interface Backend {
  kind: 'pglite' | 'postgres';
  name: string;
  enabled: boolean;
}

export const backends: Backend[] = [
  { kind: 'pglite', name: 'PGlite', enabled: true },
  { kind: 'postgres', name: DATABASE_URL ? 'PostgreSQL' : 'PostgreSQL (skipped: DATABASE_URL not set)', enabled: Boolean(DATABASE_URL) },
];

/** The real app on the backend; `databaseUrl` reuses a schema (a second instance on the same database). */
export async function appOn(
  backend: Backend,
  overrides: Partial<Config> = {},
  shared?: { url: string },
): Promise<BackendApp & { databaseUrl?: string }> {
  const base = loadConfig({ ...process.env, DATABASE_URL: '' });
  let drop: (() => Promise<void>) | undefined;
  const config: Config = {
    ...base,
    dataDir: 'memory://',
    publicBaseUrl: 'http://pa.test',
    subscriptions: { pollMs: 0, timeoutMs: 2000, maxAttempts: 3, retryBaseMs: 50, retryMaxMs: 1000 },
    ...overrides,
  };
  delete (config as { databaseUrl?: string }).databaseUrl;
  let databaseUrl: string | undefined;
  if (backend.kind === 'postgres') {
    if (shared) databaseUrl = shared.url;
    else {
      const schema = await freshSchema();
      databaseUrl = schema.databaseUrl;
      drop = schema.drop;
    }
    config.databaseUrl = databaseUrl;
  }
  const ctx = await buildContext(config, silentLogger, () => EVALUATION_DATE);
  return {
    app: createApp(ctx, allRoutes),
    ctx,
    config,
    ...(databaseUrl ? { databaseUrl } : {}),
    close: async () => {
      await ctx.store.close();
      await drop?.();
    },
  };
}

export interface Received {
  headers: http.IncomingHttpHeaders;
  body: Bundle;
  at: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  mode: 'ok' | 'fail' | 'hang';
  /** Requests answered 503 in `fail` mode. */
  refused: number;
  /** Event notifications only (handshakes left out). */
  events(): Received[];
  close(): Promise<void>;
}

/** A rest-hook endpoint on 127.0.0.1. */
export async function startReceiver(port = 0): Promise<Receiver> {
  const hanging = new Set<http.ServerResponse>();
  const receiver: Receiver = {
    url: '',
    received: [],
    mode: 'ok',
    refused: 0,
    events: () => receiver.received.filter((r) => typeOf(r.body) === 'event-notification'),
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (receiver.mode === 'hang') {
        hanging.add(res);
        return;
      }
      if (receiver.mode === 'fail') {
        receiver.refused++;
        res.statusCode = 503;
        res.end();
        return;
      }
      receiver.received.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Bundle, at: Date.now() });
      res.statusCode = 200;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return receiver;
}

/** The SubscriptionStatus `type` of a notification Bundle. */
export function typeOf(bundle: Bundle): string | undefined {
  const status = bundle.entry?.[0]?.resource as { parameter?: Array<{ name: string; valueCode?: string }> } | undefined;
  return status?.parameter?.find((p) => p.name === 'type')?.valueCode;
}

export function param(bundle: Bundle, name: string): unknown {
  const status = bundle.entry?.[0]?.resource as { parameter?: Array<Record<string, unknown>> } | undefined;
  return status?.parameter?.find((p) => p.name === name);
}

export function eventNumberOf(bundle: Bundle): number {
  const event = param(bundle, 'notification-event') as { part: Array<{ name: string; valueString?: string }> };
  return Number(event.part.find((p) => p.name === 'event-number')?.valueString);
}

/**
 * The real sender, recording each attempt per `subscription#event` and whether it succeeded: the
 * outbox delivers at least once, so a second send of one event is correct only after a failed one.
 */
export function recordingSender(): { sender: Sender; attempts: Map<string, boolean[]> } {
  const attempts = new Map<string, boolean[]>();
  const sender: Sender = async (endpoint, headers, bundle, timeoutMs) => {
    const result = await sendNotification(endpoint, headers, bundle, timeoutMs);
    const key = eventKey(bundle);
    attempts.set(key, [...(attempts.get(key) ?? []), result.ok]);
    return result;
  };
  return { sender, attempts };
}

/** `Subscription/{id}#{event number}` of an event notification. */
export function eventKey(bundle: Bundle): string {
  return `${(param(bundle, 'subscription') as { valueReference: { reference: string } }).valueReference.reference}#${eventNumberOf(bundle)}`;
}

/**
 * `expected` distinct events reached the receiver; exactly one send of each succeeded; and one that
 * arrived more than once had a failed attempt first (a send that timed out may still have arrived).
 */
export function expectDeliveredOnce(receiver: Receiver, attempts: Map<string, boolean[]>, expected: number): void {
  const seen = new Map<string, number>();
  for (const e of receiver.events()) seen.set(eventKey(e.body), (seen.get(eventKey(e.body)) ?? 0) + 1);
  expect(seen.size).toBe(expected);
  for (const [key, count] of seen) {
    const tries = attempts.get(key) ?? [];
    expect({ key, successes: tries.filter(Boolean).length }).toEqual({ key, successes: 1 });
    // A failed attempt (a timeout) may still have reached the receiver: duplicates only then.
    if (count > 1) expect({ key, retried: tries.length > 1 }).toEqual({ key, retried: true });
  }
}

/** The outbox rows of each subscription, for a failure message when deliveries stall. */
export async function outboxSummary(store: Store, subscriptionIds: string[]): Promise<string> {
  const lines = [`outbox: ${JSON.stringify(await store.outboxStats())}`];
  for (const id of subscriptionIds) {
    const rows = await store.listNotifications(id);
    lines.push(`${id} (${(await store.getSubscription(id))?.status}): ${rows.map((n) => `#${n.eventNumber} ${n.status} ×${n.attempts}${n.lastError ? ` (${n.lastError})` : ''}`).join(', ')}`);
  }
  return lines.join('\n');
}

/** A PAS Subscription like the IG's example, for the receiver and the organization given. */
export function subscriptionFor(endpoint: string, org = RIVERSIDE_NPI, extra: Record<string, unknown> = {}): Record<string, unknown> {
  // The shape of the PAS IG's Subscription-PASSubscriptionExample (profile-subscription).
  const example: Record<string, unknown> = {
    resourceType: 'Subscription',
    meta: { profile: ['http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-subscription'] },
    status: 'requested',
    reason: 'Final answers to pended prior-authorization requests of this practice',
    criteria: 'http://hl7.org/fhir/us/davinci-pas/SubscriptionTopic/PASSubscriptionTopic',
    channel: {
      type: 'rest-hook',
      payload: 'application/fhir+json',
      _payload: { extension: [{ url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content', valueCode: 'full-resource' }] },
    },
  };
  return {
    ...example,
    _criteria: { extension: [{ url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria', valueString: `orgIdentifier=${org}` }] },
    channel: { ...(example.channel as object), endpoint, header: ['Authorization: Bearer hook-secret'] },
    ...extra,
  };
}

export async function submitPended(
  app: Express,
  auth?: string,
  bundle: Bundle = freshRequest(),
): Promise<{ claimId: string; claimResponse: ClaimResponse; bundle: Bundle }> {
  let req = request(app).post('/fhir/Claim/$submit').type('application/fhir+json');
  if (auth) req = req.set('Authorization', `Bearer ${auth}`);
  const res = await req.send(bundle);
  expect(res.status).toBe(200);
  const claimResponse = res.body.entry[0].resource as ClaimResponse;
  const claimId = /(?:^|\/)Claim\/([^/]+)$/.exec(claimResponse.request?.reference ?? '')?.[1];
  if (!claimId) throw new Error('no Claim reference in the response');
  return { claimId, claimResponse, bundle };
}

/**
 * A reviewer's final decision on a pended claim: a new ClaimResponse version, saved with its
 * outbox event in one transaction (the store's saveClaimResponseVersion).
 */
export async function decide(store: Store, claimId: string, note = 'approved after review'): Promise<ClaimRecord> {
  return store.saveClaimResponseVersion({
    claimId,
    outcome: 'approve',
    event: 'review-decision',
    actor: 'dr-reviewer',
    note,
    final: true,
    respond: ({ claim, version }) => {
      const claimResponse: ClaimResponse = {
        ...claim.claimResponse,
        outcome: 'complete',
        disposition: `${note} (version ${version})`,
      };
      const responseBundle: Bundle = {
        ...claim.responseBundle,
        entry: [{ ...claim.responseBundle.entry?.[0], resource: claimResponse }, ...(claim.responseBundle.entry ?? []).slice(1)],
      };
      return { claimResponse, responseBundle };
    },
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it holds or `ms` pass; `explain` describes the state in the error. */
export async function until(check: () => boolean | Promise<boolean>, ms = 10_000, explain?: () => Promise<string>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`condition not met in ${ms} ms${explain ? `\n${await explain()}` : ''}`);
    await sleep(25);
  }
}

