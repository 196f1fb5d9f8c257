/**
 * `/fhir/Subscription` (PAS 2.2.1 Subscriptions, R4 backport): create, read, search, update,
 * delete and `$status`, as domain handlers returning `{ status, body }`.
 *
 * On create (and on an update that is not `off`) the server sends a handshake to the endpoint:
 * 2xx makes the Subscription `active`, anything else `error` with the reason. A SMART client
 * subscribes only for its own organization and sees only its own Subscriptions (another's id is
 * 404); in open mode every Subscription is visible.
 */
import { organizationKeyOf } from '../pas/submitter';
import crypto from 'node:crypto';
import type { Bundle } from 'fhir/r4';
import type { AuthenticatedClient } from '../auth/smart';
import { badRequest, notFound } from '../fhir/outcomes';
import type { Logger } from '../logger';
import type { Store, SubscriptionRecord } from '../store';
import { handshakeBundle, statusSearchBundle, subscriptionView } from './notification';
import { parseSubscription } from './resource';
import { sendNotification, type Sender } from './sender';

export interface SubscriptionDeps {
  store: Store;
  logger: Logger;
  clock: () => Date;
  /** `{publicBaseUrl}/fhir`. */
  fhirBase: string;
  /** SMART clients are configured. */
  authenticated: boolean;
  timeoutMs: number;
  sender?: Sender;
}

export interface SubscriptionResult {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

const ownerOf = organizationKeyOf;

async function visible(deps: SubscriptionDeps, id: string, client: AuthenticatedClient | undefined): Promise<SubscriptionRecord> {
  const record = await deps.store.getSubscription(id);
  // Another organization's Subscription is answered as unknown: ids reveal nothing.
  if (!record || (client && record.owner !== ownerOf(client))) throw notFound(`Subscription/${id} is not known here.`);
  return record;
}

/** Sends the handshake and records the outcome: active on 2xx, error otherwise. */
async function handshake(deps: SubscriptionDeps, record: SubscriptionRecord): Promise<SubscriptionRecord> {
  if (record.status !== 'requested') return record;
  const send = deps.sender ?? sendNotification;
  const result = await send(record.endpoint, record.headers, handshakeBundle(deps.fhirBase, record, deps.clock()), deps.timeoutMs);
  deps.logger.info('subscription.handshake', { subscription: record.id, ok: result.ok, status: result.status ?? null, ms: result.ms });
  const next = result.ok
    ? await deps.store.setSubscriptionStatus(record.id, 'active')
    : await deps.store.setSubscriptionStatus(record.id, 'error', `handshake failed: ${result.error ?? 'no 2xx answer'}`);
  return next ?? record;
}

export async function createSubscription(deps: SubscriptionDeps, body: unknown, client?: AuthenticatedClient): Promise<SubscriptionResult> {
  const parsed = parseSubscription(body, { authenticated: deps.authenticated, organization: client?.organization });
  const created = await deps.store.createSubscription({ ...parsed, id: crypto.randomUUID(), owner: ownerOf(client) });
  const record = await handshake(deps, created);
  return {
    status: 201,
    body: subscriptionView(record),
    headers: { Location: `${deps.fhirBase}/Subscription/${record.id}` },
  };
}

export async function readSubscription(deps: SubscriptionDeps, id: string, client?: AuthenticatedClient): Promise<SubscriptionResult> {
  return { status: 200, body: subscriptionView(await visible(deps, id, client)) };
}

export async function searchSubscriptions(deps: SubscriptionDeps, client?: AuthenticatedClient): Promise<SubscriptionResult> {
  const records = await deps.store.listSubscriptions(client ? { owner: ownerOf(client) } : {});
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'searchset',
    total: records.length,
    entry: records.map((r) => ({ fullUrl: `${deps.fhirBase}/Subscription/${r.id}`, resource: subscriptionView(r), search: { mode: 'match' } })),
  };
  return { status: 200, body: bundle };
}

export async function updateSubscription(deps: SubscriptionDeps, id: string, body: unknown, client?: AuthenticatedClient): Promise<SubscriptionResult> {
  const existing = await visible(deps, id, client);
  const bodyId = (body as { id?: unknown } | null)?.id;
  if (bodyId !== undefined && bodyId !== id) throw badRequest(`Subscription.id (${String(bodyId)}) must match the URL (${id}).`, 'Subscription.id');
  const parsed = parseSubscription(body, { authenticated: deps.authenticated, organization: client?.organization });
  const updated = await deps.store.updateSubscription({ ...parsed, id, owner: existing.owner });
  if (!updated) throw notFound(`Subscription/${id} is not known here.`);
  return { status: 200, body: subscriptionView(await handshake(deps, updated)) };
}

export async function deleteSubscription(deps: SubscriptionDeps, id: string, client?: AuthenticatedClient): Promise<SubscriptionResult> {
  await visible(deps, id, client);
  await deps.store.deleteSubscription(id);
  return { status: 204, body: '' };
}

export async function subscriptionStatusOperation(deps: SubscriptionDeps, id: string, client?: AuthenticatedClient): Promise<SubscriptionResult> {
  return { status: 200, body: statusSearchBundle(deps.fhirBase, await visible(deps, id, client), deps.clock()) };
}
