/**
 * The catalog's value-set expansions as cql-execution's terminology provider, with hashed
 * membership. cql-execution's ValueSet answers `code in "Value Set"` and the retrieve's value-set
 * filter by scanning every code of the expansion for every code tested; these answer the same
 * question (equal `code` and `system`) with one lookup.
 */
import { CodeService, ValueSet, type Code } from 'cql-execution';
import type { Coding } from 'fhir/r4';
import type { ValueSetIndex } from '../catalog/terminology';

const memberKey = (system: string, code: string) => `${system}|${code}`;

/** Flattens what `hasMatch` accepts (a code, a concept, a list of either, a string) as cql-execution does. */
function toCodeList(c: unknown): unknown[] {
  if (c === null || c === undefined) return [];
  if (Array.isArray(c)) return c.flatMap(toCodeList);
  const codes = (c as { codes?: unknown }).codes;
  if (Array.isArray(codes)) return codes as unknown[];
  return [c];
}

export class HashedValueSet extends ValueSet {
  /** `system|code` of every member; also read by the retrieve pre-filter (./data-provider). */
  readonly memberKeys: ReadonlySet<string>;
  private readonly bareCodes: ReadonlySet<string>;

  constructor(oid: string, version: string | undefined, codes: Code[]) {
    super(oid, version, codes);
    this.memberKeys = new Set(codes.map((c) => memberKey(c.system as string, c.code)));
    this.bareCodes = new Set(codes.map((c) => c.code));
  }

  override hasMatch(code: unknown): boolean {
    const list = toCodeList(code);
    // The single-string overload checks that the value set has one code system: keep the original.
    if (list.length === 1 && typeof list[0] === 'string') return super.hasMatch(code) as boolean;
    return list.some((c) => {
      if (typeof c === 'string') return this.bareCodes.has(c);
      const { code: value, system } = (c ?? {}) as { code?: unknown; system?: unknown };
      return typeof value === 'string' && typeof system === 'string' && this.memberKeys.has(memberKey(system, value));
    });
  }
}

/** A CodeService whose value sets are HashedValueSets (same lookup by url and version). */
export function codeServiceFor(valueSets: ValueSetIndex): CodeService {
  const service = new CodeService({});
  for (const [url, vs] of valueSets.valueSets) {
    const codes = valueSets
      .codes(url)
      .filter((c): c is Coding & { code: string; system: string } => Boolean(c.code && c.system))
      .map((c) => ({ code: c.code, system: c.system }));
    const version = vs.version ?? '';
    // Built as cql-execution's own CodeService builds its Codes (code, system; no version).
    const built = new CodeService({ [url]: { [version]: codes } }).findValueSet(url, version) as ValueSet;
    service.valueSets[url] = { [version]: new HashedValueSet(url, version, built.codes as Code[]) };
  }
  return service;
}
