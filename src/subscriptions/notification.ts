/**
 * Notification Bundles of the R4 Subscriptions backport as PAS uses them
 * (PAS 2.2.1 `Bundle-PASSubscriptionNotification`): a `history` Bundle whose first entry is the
 * SubscriptionStatus Parameters and, for an event, whose second entry is the full PAS response Bundle.
 */
import crypto from 'node:crypto';
import type { Bundle, BundleEntry, Parameters, ParametersParameter, Subscription } from 'fhir/r4';
import type { SubscriptionRecord } from '../store';
import { BACKPORT, PAS_TOPIC } from './topic';

export type NotificationType = 'handshake' | 'heartbeat' | 'event-notification' | 'query-status';

export interface NotificationEvent {
  eventNumber: number;
  /** When the event happened. */
  timestamp: string;
  /** The PAS response Bundle (full-resource). */
  focus: Bundle;
}

export interface StatusInput {
  /** `{publicBaseUrl}/fhir`. */
  fhirBase: string;
  subscription: Pick<SubscriptionRecord, 'id' | 'status' | 'eventsSinceStart' | 'lastError'>;
  type: NotificationType;
  events?: Array<{ eventNumber: number; timestamp: string; focusUrl?: string }>;
}

/** The SubscriptionStatus (backport R4 Parameters). */
export function subscriptionStatus(input: StatusInput): Parameters {
  const { subscription: s } = input;
  const parameter: ParametersParameter[] = [
    { name: 'subscription', valueReference: { reference: `${input.fhirBase}/Subscription/${s.id}` } },
    { name: 'topic', valueCanonical: PAS_TOPIC },
    { name: 'status', valueCode: s.status },
    { name: 'type', valueCode: input.type },
    { name: 'events-since-subscription-start', valueString: String(s.eventsSinceStart) },
  ];
  for (const e of input.events ?? []) {
    parameter.push({
      name: 'notification-event',
      part: [
        { name: 'event-number', valueString: String(e.eventNumber) },
        { name: 'timestamp', valueInstant: e.timestamp },
        ...(e.focusUrl ? [{ name: 'focus', valueReference: { reference: e.focusUrl } }] : []),
      ],
    });
  }
  if (s.status === 'error' && s.lastError) parameter.push({ name: 'error', valueCodeableConcept: { text: s.lastError } });
  return { resourceType: 'Parameters', id: crypto.randomUUID(), meta: { profile: [BACKPORT.statusProfile] }, parameter };
}

function statusEntry(fhirBase: string, id: string, status: Parameters): BundleEntry {
  return {
    fullUrl: `urn:uuid:${status.id}`,
    resource: status,
    request: { method: 'GET', url: `${fhirBase}/Subscription/${id}/$status` },
    response: { status: '200' },
  };
}

/** A backport notification Bundle (history, SubscriptionStatus first). */
function notificationBundle(now: Date, entry: BundleEntry[]): Bundle {
  return { resourceType: 'Bundle', id: crypto.randomUUID(), meta: { profile: [BACKPORT.notificationProfile] }, type: 'history', timestamp: now.toISOString(), entry };
}

/** A handshake (on create or re-activation) or a heartbeat: the status entry only. */
export function handshakeBundle(fhirBase: string, subscription: SubscriptionRecord, now: Date, type: 'handshake' | 'heartbeat' = 'handshake'): Bundle {
  const status = subscriptionStatus({ fhirBase, subscription, type });
  return notificationBundle(now, [statusEntry(fhirBase, subscription.id, status)]);
}

/** An event notification: status entry, then the PAS response Bundle it is about. */
export function eventNotificationBundle(
  fhirBase: string,
  subscription: Pick<SubscriptionRecord, 'id' | 'status' | 'eventsSinceStart' | 'lastError'>,
  event: NotificationEvent,
  now: Date,
): Bundle {
  const focusUrl = `urn:uuid:${crypto.randomUUID()}`;
  const status = subscriptionStatus({
    fhirBase,
    subscription,
    type: 'event-notification',
    events: [{ eventNumber: event.eventNumber, timestamp: event.timestamp, focusUrl }],
  });
  const claimResponseId = event.focus.entry?.[0]?.resource?.id;
  return notificationBundle(now, [
    statusEntry(fhirBase, subscription.id, status),
    {
      fullUrl: focusUrl,
      resource: event.focus,
      // The response is read back at the ClaimResponse it carries.
      request: { method: 'GET', url: claimResponseId ? `${fhirBase}/ClaimResponse/${claimResponseId}` : `${fhirBase}/ClaimResponse` },
      response: { status: '200' },
    },
  ]);
}

/** `Subscription/{id}/$status`: a searchset of one SubscriptionStatus (type query-status). */
export function statusSearchBundle(fhirBase: string, subscription: SubscriptionRecord, now: Date): Bundle {
  const status = subscriptionStatus({ fhirBase, subscription, type: 'query-status' });
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    timestamp: now.toISOString(),
    total: 1,
    entry: [{ fullUrl: `urn:uuid:${status.id}`, resource: status, search: { mode: 'match' } }],
  };
}

/** The Subscription as the client reads it: the stored resource with the server's id, status and error. */
export function subscriptionView(record: SubscriptionRecord): Subscription {
  const { error: _ignored, ...resource } = record.resource;
  return {
    ...resource,
    id: record.id,
    meta: { ...(resource.meta ?? {}), lastUpdated: record.updatedAt },
    status: record.status,
    ...(record.status === 'error' && record.lastError ? { error: record.lastError } : {}),
  };
}
