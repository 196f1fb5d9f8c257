/**
 * Two memos on the CQL engine's own objects, for the CPU and the garbage of an evaluation (issue 11).
 * Both cache a pure function of an object on that object, so a value lives no longer than the
 * evaluation that made it, and neither changes what is computed. (One edge: cql-execution sets the
 * offset of a `start of`/`end of` equal to its year-1 or year-9999 bound in place; a FHIR value of
 * exactly that instant keeps the new offset for the rest of its evaluation.)
 *
 * - A cql-exec-fhir FHIRObject builds a new FHIRObject (a getter per element) for a nested element,
 *   and parses a date-time string again through luxon, on every read. A policy reads the same
 *   elements of a record in many definitions: ~590 reads per typical evaluation. Each read of an
 *   element now gives the value of its first read. The records themselves are wrapped once per
 *   evaluation (./data-provider), so this reaches the elements under them.
 * - cql-execution compares two DateTimes of different offsets by converting one through luxon.
 *   That includes each arithmetic result's overflow check against its MIN/MAX constants (offset 0)
 *   and each `start of`/`end of`: ~210 conversions per typical evaluation. A DateTime now keeps its
 *   conversion to each offset, and hands out a copy, since some callers adjust what they get.
 *
 * Measured on the approvable CP.PHAR.244 request: `engine.evaluate` p50 7.1–8.9 → 5.5–5.7 ms; over
 * HTTP with 8 clients (PGlite, heap growing 50, two rounds) 109–112 → 120–130 req/s, the CQL
 * workers' CPU per request −12–15%, their GC helpers' −20%.
 */
import { DateTime } from 'cql-execution';

// Registered symbols: a second copy of this module (a test runner's module registry) finds the
// memos already in place on the libraries' shared classes instead of wrapping them again.
const READS = Symbol.for('pa.elementReads');
const CONVERSIONS = Symbol.for('pa.offsetConversions');
const INSTALLED = Symbol.for('pa.memoInstalled');

type Memoized = Record<symbol, unknown>;

/**
 * The per-object cache, kept in a non-enumerable symbol property: equality and distinct never see
 * it. None for a frozen object (a value in a shared, frozen decision): it is computed as before.
 */
function cacheOf<K, V>(target: object, key: symbol): Map<K, V> | undefined {
  const holder = target as Memoized;
  let cache = holder[key] as Map<K, V> | undefined;
  if (!cache && Object.isExtensible(target)) {
    cache = new Map<K, V>();
    Object.defineProperty(target, key, { value: cache, enumerable: false });
  }
  return cache;
}

interface ElementReader {
  get(field: string): unknown;
}

/** Both memos, given any FHIRObject (a wrapped resource): its class is not exported. Idempotent. */
export function memoizeCqlReads(wrapped: object): void {
  memoizeElementReads(Object.getPrototypeOf(wrapped) as ElementReader);
  memoizeOffsetConversions();
}

/** Memoizes `get` on cql-exec-fhir's FHIRObject class, given its prototype. */
function memoizeElementReads(prototype: ElementReader): void {
  const holder = prototype as unknown as Memoized;
  if (holder[INSTALLED]) return;
  const read = prototype.get;
  prototype.get = function (this: ElementReader, field: string): unknown {
    const cache = cacheOf<string, unknown>(this, READS);
    if (cache?.has(field)) return cache.get(field);
    const value = read.call(this, field);
    cache?.set(field, value);
    return value;
  };
  Object.defineProperty(holder, INSTALLED, { value: true, enumerable: false });
}

type Convert = (this: DateTime, offset?: number | null) => DateTime;

/** Memoizes cql-execution's `DateTime.convertToTimezoneOffset`, keyed by the source's offset too (some callers set it). */
function memoizeOffsetConversions(): void {
  const prototype = DateTime.prototype as unknown as { convertToTimezoneOffset: Convert } & Memoized;
  if (prototype[INSTALLED]) return;
  const convert = prototype.convertToTimezoneOffset;
  prototype.convertToTimezoneOffset = function (this: DateTime, offset?: number | null): DateTime {
    const cache = cacheOf<string, DateTime>(this, CONVERSIONS);
    const key = `${String(this.timezoneOffset)}>${offset === undefined ? 0 : String(offset)}`;
    let converted = cache?.get(key);
    if (!converted) {
      converted = convert.call(this, offset);
      cache?.set(key, converted);
    }
    return converted.copy();
  };
  Object.defineProperty(prototype, INSTALLED, { value: true, enumerable: false });
}
