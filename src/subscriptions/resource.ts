/**
 * Narrows a `POST`/`PUT /fhir/Subscription` body to what the server accepts (PAS 2.2.1
 * `profile-subscription` on the R4 Subscriptions backport).
 *
 * Supports: `criteria` = the PASSubscriptionTopic canonical (optionally `|version`); one
 * `backport-filter-criteria` `orgIdentifier=<value>` or `orgIdentifier=<system>|<value>`; channel
 * `rest-hook` with an http(s) `endpoint` (https only when authentication is configured), payload
 * `application/fhir+json` with content `full-resource`; `channel.header` lines `Name: value`;
 * `status` requested (or off, to pause).
 *
 * Does not support: other topics or filters, `id-only`/`empty` content, websocket/email/message
 * channels, heartbeats, `end`.
 */
import type { Extension, Subscription } from 'fhir/r4';
import { badRequest, forbidden } from '../fhir/outcomes';
import type { NewSubscription } from '../store';
import { BACKPORT, ORG_FILTER, PAS_SUBSCRIPTION_PROFILE, PAS_TOPIC } from './topic';
import { isRecord } from '../fhir/json';

/** Headers the sender sets itself or that would break the request. */
const RESERVED_HEADERS = new Set(['host', 'content-type', 'content-length', 'connection', 'transfer-encoding', 'expect', 'upgrade']);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FHIR_JSON = ['application/fhir+json', 'application/json'];

export interface SubscriptionInputPolicy {
  /** Authentication is configured: endpoints must be https, the filter must be the caller's organization. */
  authenticated: boolean;
  /** The caller's organization, when a SMART client calls. */
  organization?: { system: string; value: string } | undefined;
}

export type ParsedSubscription = Omit<NewSubscription, 'id' | 'owner'>;



function extensionsOf(element: unknown, url: string): Extension[] {
  if (!isRecord(element) || !Array.isArray(element.extension)) return [];
  return (element.extension as unknown[]).filter((e): e is Extension => isRecord(e) && e.url === url);
}

/** `orgIdentifier=value` or `orgIdentifier=system|value` (FHIR token search syntax). */
function parseFilter(text: string): { system: string | null; value: string } {
  const at = 'Subscription._criteria.extension.where(url = \'' + BACKPORT.filterCriteria + '\').valueString';
  const match = /^([A-Za-z][A-Za-z0-9-]*)=(.+)$/.exec(text.trim());
  if (!match) throw badRequest(`The filter "${text}" is not of the form ${ORG_FILTER}=<identifier>.`, at);
  if (match[1] !== ORG_FILTER) {
    throw badRequest(`The PAS topic can be filtered only by ${ORG_FILTER}; "${match[1]}" is not supported.`, at, 'not-supported');
  }
  let raw = match[2]!;
  try {
    raw = decodeURIComponent(raw);
  } catch {
    // Not percent-encoded: taken as written.
  }
  const bar = raw.lastIndexOf('|');
  const system = bar > 0 ? raw.slice(0, bar) : null;
  const value = bar >= 0 ? raw.slice(bar + 1) : raw;
  if (value.trim() === '') throw badRequest(`The ${ORG_FILTER} filter needs an identifier value.`, at);
  return { system, value };
}

export function parseSubscription(body: unknown, policy: SubscriptionInputPolicy): ParsedSubscription {
  if (!isRecord(body) || body.resourceType !== 'Subscription') {
    throw badRequest('The request body must be a Subscription resource.', 'Subscription', 'structure');
  }
  const input = body as unknown as Subscription & { _criteria?: unknown; channel?: Subscription['channel'] & { _payload?: unknown } };

  const criteria = typeof input.criteria === 'string' ? input.criteria.trim() : '';
  if (criteria.split('|')[0] !== PAS_TOPIC) {
    throw badRequest(`Subscription.criteria must be the PAS topic ${PAS_TOPIC}; this server publishes no other.`, 'Subscription.criteria', 'not-supported');
  }

  const filters = extensionsOf(input._criteria, BACKPORT.filterCriteria);
  if (filters.length !== 1 || typeof filters[0]?.valueString !== 'string') {
    throw badRequest(
      `The subscription must carry exactly one ${ORG_FILTER} filter (backport-filter-criteria on Subscription.criteria), naming the provider organization.`,
      'Subscription._criteria.extension',
      'required',
    );
  }
  const filter = parseFilter(filters[0].valueString);
  if (policy.organization) {
    const org = policy.organization;
    if (filter.value !== org.value || (filter.system !== null && filter.system !== org.system)) {
      throw forbidden(
        `This client subscribes for ${org.system}|${org.value} only; the ${ORG_FILTER} filter names another organization.`,
        'Subscription._criteria.extension',
      );
    }
  }

  const channel = input.channel;
  if (!isRecord(channel)) throw badRequest('Subscription.channel is required.', 'Subscription.channel', 'required');
  if (channel.type !== 'rest-hook') {
    throw badRequest(`Only the rest-hook channel is supported; got "${String(channel.type)}".`, 'Subscription.channel.type', 'not-supported');
  }
  const endpoint = typeof channel.endpoint === 'string' ? channel.endpoint.trim() : '';
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw badRequest('Subscription.channel.endpoint must be an absolute http(s) URL.', 'Subscription.channel.endpoint', 'required');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw badRequest(`Subscription.channel.endpoint must be http(s); ${url.protocol} is not supported.`, 'Subscription.channel.endpoint', 'not-supported');
  }
  if (policy.authenticated && url.protocol !== 'https:') {
    throw badRequest('Subscription.channel.endpoint must be https when authentication is configured.', 'Subscription.channel.endpoint', 'security');
  }
  if (url.username || url.password) {
    throw badRequest('Subscription.channel.endpoint must not carry credentials; send them in channel.header.', 'Subscription.channel.endpoint', 'security');
  }

  if (channel.payload !== undefined && !FHIR_JSON.includes(String(channel.payload))) {
    throw badRequest(`Only application/fhir+json payloads are supported; got "${String(channel.payload)}".`, 'Subscription.channel.payload', 'not-supported');
  }
  const contents = extensionsOf(channel._payload, BACKPORT.payloadContent);
  const content = contents[0]?.valueCode ?? 'full-resource';
  if (content !== 'full-resource' || contents.length > 1) {
    throw badRequest(
      `Only full-resource notifications are supported; got "${String(content)}".`,
      'Subscription.channel._payload.extension',
      'not-supported',
    );
  }

  const headers: string[] = [];
  const rawHeaders: unknown[] = Array.isArray(channel.header) ? channel.header : channel.header === undefined ? [] : [channel.header];
  rawHeaders.forEach((line, i) => {
    const at = `Subscription.channel.header[${i}]`;
    const colon = typeof line === 'string' ? line.indexOf(':') : -1;
    const name = typeof line === 'string' && colon > 0 ? line.slice(0, colon).trim() : '';
    const value = typeof line === 'string' && colon > 0 ? line.slice(colon + 1).trim() : '';
    if (!HEADER_NAME.test(name) || /[\r\n\0]/.test(value)) throw badRequest('A channel.header must be "Name: value".', at);
    if (RESERVED_HEADERS.has(name.toLowerCase())) throw badRequest(`The header ${name} is set by the server and cannot be given.`, at, 'not-supported');
    headers.push(`${name}: ${value}`);
  });

  const status = input.status ?? 'requested';
  if (status !== 'requested' && status !== 'active' && status !== 'off') {
    throw badRequest(`Subscription.status may be requested or off when written; got "${String(status)}".`, 'Subscription.status', 'invalid');
  }

  const resource: Subscription = {
    ...input,
    meta: { ...(input.meta ?? {}), profile: [...new Set([...(input.meta?.profile ?? []), PAS_SUBSCRIPTION_PROFILE])] },
    criteria,
  };
  delete (resource as { error?: unknown }).error;
  return {
    // An active subscription written back (PUT) is re-verified with a new handshake.
    status: status === 'off' ? 'off' : 'requested',
    topic: PAS_TOPIC,
    filterSystem: filter.system,
    filterValue: filter.value,
    endpoint: url.toString(),
    headers,
    resource,
  };
}
