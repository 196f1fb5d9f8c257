/**
 * Who submitted a PAS request: the identifiers (`system|value`) of Claim.provider — the
 * Organization, or a PractitionerRole's organization and practitioner, or the Practitioner.
 * A SMART client sees and resubmits only the requests of the organization it is registered for.
 */
import type { Bundle, Claim, Identifier, Reference } from 'fhir/r4';
import type { AuthenticatedClient } from '../auth/smart';
import { BundleIndex } from '../fhir/bundle-index';
import type { ClaimRecord } from '../store';

function keysOf(identifiers: Identifier | Identifier[] | undefined): string[] {
  const list: unknown[] = Array.isArray(identifiers) ? identifiers : identifiers ? [identifiers] : [];
  return (list as Identifier[]).filter((i) => typeof i?.value === 'string' && typeof i.system === 'string').map((i) => `${i.system}|${i.value}`);
}

/** Submitter keys of a request Bundle whose first entry is the Claim. */
export function submitterKeysOf(requestBundle: Bundle): string[] {
  const index = new BundleIndex(requestBundle);
  const first = index.entry(0);
  if (first?.resource.resourceType !== 'Claim') return [];
  const claim = first.resource as Claim;
  const keys = keysOf(claim.provider?.identifier);
  const provider = index.resolveReference(claim.provider, first.fullUrl);
  if (!provider) return keys;
  const r = provider.resource;
  keys.push(...keysOf((r as { identifier?: Identifier[] }).identifier));
  if (r.resourceType === 'PractitionerRole') {
    for (const ref of [r.organization, r.practitioner] as (Reference | undefined)[]) {
      keys.push(...keysOf(ref?.identifier));
      const target = index.resolveReference(ref, provider.fullUrl);
      keys.push(...keysOf((target?.resource as { identifier?: Identifier[] } | undefined)?.identifier));
    }
  }
  return [...new Set(keys)];
}

/** The organization a SMART client acts for, as a submitter key (`system|value`); null in open mode. */
export function organizationKeyOf(client: AuthenticatedClient | undefined): string | null {
  return client ? `${client.organization.system}|${client.organization.value}` : null;
}

/** Open mode (no client) sees everything; a client only its own organization's requests. */
export function clientMaySee(client: AuthenticatedClient | undefined, requestBundle: Bundle): boolean {
  const key = organizationKeyOf(client);
  return key === null || submitterKeysOf(requestBundle).includes(key);
}

/** The same for a stored claim: its submitter keys were written at submit (older rows: re-read). */
export function clientMaySeeClaim(client: AuthenticatedClient | undefined, record: ClaimRecord): boolean {
  const key = organizationKeyOf(client);
  if (key === null) return true;
  return record.submitterKeys.length > 0 ? record.submitterKeys.includes(key) : clientMaySee(client, record.requestBundle);
}
