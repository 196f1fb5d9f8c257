/**
 * Where a member lives, for the policies that depend on it (e.g. a plan sold in one state): one
 * rule for CRD, DTR and PAS. The Coverage's subscriber's current home address, else the patient's
 * (no `period.end`; `use: home` first, else the first current one); its state as a USPS two-letter
 * code, full names mapped (Synthea writes them).
 */
import type { Address, Patient, RelatedPerson } from 'fhir/r4';

const STATE_NAMES: Record<string, string> = {
  alabama: 'AL', alaska: 'AK', arizona: 'AZ', arkansas: 'AR', california: 'CA', colorado: 'CO', connecticut: 'CT',
  delaware: 'DE', 'district of columbia': 'DC', florida: 'FL', georgia: 'GA', hawaii: 'HI', idaho: 'ID', illinois: 'IL',
  indiana: 'IN', iowa: 'IA', kansas: 'KS', kentucky: 'KY', louisiana: 'LA', maine: 'ME', maryland: 'MD',
  massachusetts: 'MA', michigan: 'MI', minnesota: 'MN', mississippi: 'MS', missouri: 'MO', montana: 'MT',
  nebraska: 'NE', nevada: 'NV', 'new hampshire': 'NH', 'new jersey': 'NJ', 'new mexico': 'NM', 'new york': 'NY',
  'north carolina': 'NC', 'north dakota': 'ND', ohio: 'OH', oklahoma: 'OK', oregon: 'OR', pennsylvania: 'PA',
  'rhode island': 'RI', 'south carolina': 'SC', 'south dakota': 'SD', tennessee: 'TN', texas: 'TX', utah: 'UT',
  vermont: 'VT', virginia: 'VA', washington: 'WA', 'west virginia': 'WV', wisconsin: 'WI', wyoming: 'WY',
  'puerto rico': 'PR', guam: 'GU', 'virgin islands': 'VI', 'american samoa': 'AS', 'northern mariana islands': 'MP',
};

/** `TX` for `TX`, `tx` or `Texas`; undefined for anything else. */
export function stateCode(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const trimmed = raw.trim();
  if (/^[A-Za-z]{2}$/.test(trimmed)) return trimmed.toUpperCase();
  return STATE_NAMES[trimmed.toLowerCase()];
}

/** The state of the person's current home address. */
export function currentHomeState(person: Pick<Patient | RelatedPerson, 'address'> | undefined): string | undefined {
  const addresses = (Array.isArray(person?.address) ? person.address : []).filter(
    (a): a is Address => typeof a === 'object' && a !== null && typeof a.state === 'string' && !a.period?.end,
  );
  const chosen = addresses.find((a) => a.use === 'home') ?? addresses[0];
  return stateCode(chosen?.state);
}

/** The member's state: the subscriber's current home state, else the patient's. */
export function memberState(
  subscriber: Pick<Patient | RelatedPerson, 'address'> | undefined,
  patient: Pick<Patient | RelatedPerson, 'address'> | undefined,
): string | undefined {
  return currentHomeState(subscriber) ?? currentHomeState(patient);
}
