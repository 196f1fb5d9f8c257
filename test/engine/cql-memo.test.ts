/**
 * The engine's memos on cql-exec-fhir element reads, cql-execution offset conversions and records'
 * distinct keys (src/engine/cql-memo.ts): the same values as without them, nothing added that equality or
 * distinct read (enumerable keys; Immutable.js reads every symbol too), and a caller that adjusts
 * what it got cannot change what the next caller gets.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DateTime } from 'cql-execution';
import { FHIRWrapper } from 'cql-exec-fhir';
import type { MedicationDispense } from 'fhir/r4';
import { memoizeCqlReads, wrapRecord } from '../../src/engine/cql-memo';
import { libraryOf } from '../../src/engine/replace-once';
import approvable from '../../fixtures/pas/kineret-request-approvable.json';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { toDistinctList } = require('cql-execution/lib/elm/list') as { toDistinctList: <T>(list: T[]) => T[] };
/** The own keys that cql-execution's equality (enumerable ones) and Immutable.js's keys (those and every symbol) read. */
const visibleKeys = (value: object) => [...Object.keys(value), ...Object.getOwnPropertySymbols(value)];

const dispense: MedicationDispense = {
  resourceType: 'MedicationDispense',
  id: 'md-1',
  status: 'completed',
  medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '1441530' }] },
  whenHandedOver: '2025-02-10T14:30:00-05:00',
  daysSupply: { value: 28, unit: 'days', system: 'http://unitsofmeasure.org', code: 'd' },
};

type Readable = { get(field: string): unknown };
const wrapper = FHIRWrapper.FHIRv401();
// Read before the memos are installed: what cql-exec-fhir and cql-execution give on their own.
const plain = wrapper.wrap(dispense) as unknown as Readable;
// The library's own element read: cql-exec-fhir is loaded once per jest worker (test/host), so an
// earlier suite's engine may have installed the memo already; it keeps the library's.
const plainGet = libraryOf((Object.getPrototypeOf(plain) as { get(this: unknown, field: string): unknown }).get);
const plainHandedOver = plainGet.call(plainGet.call(plain, 'whenHandedOver'), 'value') as DateTime;
const plainCoding = JSON.stringify(plainGet.call(plainGet.call(plain, 'medication'), 'coding'));
const samples = [
  new DateTime(2025, 2, 10, 14, 30, 0, 0, -5),
  new DateTime(2024, 3, 4, null, null, null, null, 0),
  new DateTime(2024, 12, 31, 23, 0, 0, 0, 2),
  new DateTime(2026, 11, 20, 10, 0, null, null, -4),
];
const offsets = [0, -5, 5.5, undefined];
const libraryConvert = libraryOf(DateTime.prototype.convertToTimezoneOffset);
const plainConversions = samples.map((d) => offsets.map((o) => libraryConvert.call(d, o).toString()));

beforeAll(() => memoizeCqlReads(wrapper.wrap(dispense)));

describe('element reads', () => {
  test('a nested element read twice is the same value, equal to the unmemoized read', () => {
    const record = wrapper.wrap(dispense) as unknown as Readable;
    const handedOver = record.get('whenHandedOver') as Readable;
    expect(record.get('whenHandedOver')).toBe(handedOver);
    const value = handedOver.get('value') as DateTime;
    expect(handedOver.get('value')).toBe(value);
    expect(value.toString()).toBe(plainHandedOver.toString());
    expect(JSON.stringify((record.get('medication') as Readable).get('coding'))).toBe(plainCoding);
  });

  test('the cache adds nothing equality or distinct read, so a read element is still one value with an unread equal one', () => {
    const record = wrapper.wrap(dispense) as unknown as Readable;
    const keys = visibleKeys(record);
    record.get('status');
    record.get('daysSupply');
    expect(visibleKeys(record)).toEqual(keys);
    const read = record.get('daysSupply') as Readable;
    read.get('value');
    expect(toDistinctList([read, (wrapper.wrap(dispense) as unknown as Readable).get('daysSupply')])).toHaveLength(1);
  });

  test('a second copy of the module installs nothing more (no memo over a memo)', () => {
    const prototype = Object.getPrototypeOf(wrapper.wrap(dispense)) as Readable;
    const convert = DateTime.prototype.convertToTimezoneOffset;
    const read = prototype.get;
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      (require('../../src/engine/cql-memo') as typeof import('../../src/engine/cql-memo')).memoizeCqlReads(wrapper.wrap(dispense));
    });
    expect(prototype.get).toBe(read);
    expect(DateTime.prototype.convertToTimezoneOffset).toBe(convert);
  });

  test('each record has its own cache', () => {
    const a = wrapper.wrap(dispense) as unknown as Readable;
    const b = wrapper.wrap({ ...dispense, status: 'in-progress' }) as unknown as Readable;
    expect((a.get('status') as Readable).get('value')).toBe('completed');
    expect((b.get('status') as Readable).get('value')).toBe('in-progress');
  });
});

describe('records built from one descriptor map per class', () => {
  const resources = ((approvable as { entry: { resource: { resourceType: string } }[] }).entry ?? []).map((e) => e.resource);
  /** Each own property: its name, how it is defined, and what it gives (hidden fields by identity). */
  const shape = (value: object) =>
    Reflect.ownKeys(value).map((key) => {
      const d = Object.getOwnPropertyDescriptor(value, key)!;
      return [String(key), d.enumerable, d.configurable, d.writable, typeof d.get, d.value];
    });

  test.each(resources.map((r) => [r.resourceType, r] as const))('a %s is the object the library builds, read alike', (_type, resource) => {
    const ours = wrapRecord(wrapper, resource) as object;
    const library = wrapper.wrap(resource as never) as object;
    expect(Object.getPrototypeOf(ours)).toBe(Object.getPrototypeOf(library));
    expect(shape(ours)).toEqual(shape(library));
    expect(JSON.stringify(ours)).toBe(JSON.stringify(library));
    expect(toDistinctList([ours, library])).toHaveLength(1);
  });

  test('a resource type the model does not know goes to the library (which reports it), as before', () => {
    const unknown = wrapRecord(wrapper, { resourceType: 'NoSuchType' }) as { _typeInfo?: unknown };
    expect(unknown._typeInfo).toBeUndefined();
    expect(Object.keys(unknown)).toEqual([]);
  });
});

describe('offset conversions', () => {
  test('the same results as cql-execution alone, for each offset (none means 0)', () => {
    expect(samples.map((d) => offsets.map((o) => d.convertToTimezoneOffset(o).toString()))).toEqual(plainConversions);
    expect(samples.map((d) => offsets.map((o) => d.convertToTimezoneOffset(o).toString()))).toEqual(plainConversions);
  });

  test('a caller that adjusts its copy does not change the next answer', () => {
    const source = new DateTime(2025, 2, 10, 14, 30, 0, 0, -5);
    const first = source.convertToTimezoneOffset(0);
    first.timezoneOffset = 3;
    first.hour = 1;
    expect(source.convertToTimezoneOffset(0).toString()).toBe('2025-02-10T19:30:00.000+00:00');
  });

  test('a source whose offset is set after a conversion is converted again', () => {
    const source = new DateTime(2025, 2, 10, 14, 30, 0, 0, -5);
    expect(source.convertToTimezoneOffset(0).toString()).toBe('2025-02-10T19:30:00.000+00:00');
    source.timezoneOffset = 0;
    expect(source.convertToTimezoneOffset(0).toString()).toBe('2025-02-10T14:30:00.000+00:00');
  });

  test('a frozen DateTime or element (in a shared, frozen decision) is read and converted without a cache', () => {
    const source = Object.freeze(new DateTime(2025, 2, 10, 14, 30, 0, 0, -5));
    expect(source.convertToTimezoneOffset(0).toString()).toBe('2025-02-10T19:30:00.000+00:00');
    const record = Object.freeze(wrapper.wrap(dispense)) as unknown as Readable;
    expect(((record.get('status') as Readable).get('value'))).toBe('completed');
  });

  test('the cache adds nothing equality or distinct read, so a converted DateTime is still one value with an equal one', () => {
    const source = new DateTime(2025, 2, 10, 14, 30, 0, 0, -5);
    const keys = visibleKeys(source);
    source.convertToTimezoneOffset(0);
    expect(visibleKeys(source)).toEqual(keys);
    expect(toDistinctList([source, new DateTime(2025, 2, 10, 14, 30, 0, 0, -5)])).toHaveLength(1);
  });
});

describe('record keys', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { ResourceRecord } = require('../../src/engine/data-provider') as typeof import('../../src/engine/data-provider');
  const record = (key: string, resource: MedicationDispense) => new ResourceRecord(key, wrapper.wrap(resource) as never, resource);

  test('records of a type share one frozen type hierarchy, equal to cql-exec-fhir\'s own', () => {
    const a = record('MedicationDispense/md-1', dispense);
    const b = record('MedicationDispense/md-2', { ...dispense, id: 'md-2' });
    expect(a._typeHierarchy()).toBe(b._typeHierarchy());
    expect(Object.isFrozen(a._typeHierarchy())).toBe(true);
    expect(a._typeHierarchy()).toEqual((wrapper.wrap(dispense) as unknown as { _typeHierarchy(): unknown })._typeHierarchy());
  });

  test('distinct keeps one of two records with one key, and both of two keys, however often it is asked', () => {
    const a = record('MedicationDispense/md-1', dispense);
    const same = record('MedicationDispense/md-1', dispense);
    const other = record('MedicationDispense/md-2', { ...dispense, id: 'md-2' });
    for (let i = 0; i < 3; i++) {
      expect(toDistinctList([a, same, other])).toEqual([a, other]);
      expect(toDistinctList([other, a])).toEqual([other, a]);
    }
  });
});

describe('elements below a record built from one descriptor map per class', () => {
  // The library's own read, taken before the memos were installed (beforeAll runs after this file's top level).
  type Parts = { _json: unknown; _typeInfo: { name: string }; get(field: string): unknown };
  const libraryGet = plainGet;
  const isObject = (v: unknown): v is Parts => typeof v === 'object' && v !== null && '_typeInfo' in v;
  const sharedGetters = new Map<string, Map<unknown, number>>();

  /** Reads every element of `ours` and `theirs` (the library's read) down to `depth`, comparing as it goes. */
  function compare(ours: unknown, theirs: unknown, path: string, depth: number): number {
    if (Array.isArray(theirs)) {
      expect({ path, list: Array.isArray(ours), length: (ours as unknown[]).length }).toEqual({ path, list: true, length: theirs.length });
      return theirs.reduce<number>((n, item, i) => n + compare((ours as unknown[])[i], item, `${path}[${i}]`, depth), 0);
    }
    if (!isObject(theirs)) {
      // A System value (string, number, Code, DateTime…), or null/undefined: equal by type and content.
      expect({ path, type: typeof ours, ctor: (ours as object | null)?.constructor?.name, json: JSON.stringify(ours) }).toEqual({
        path,
        type: typeof theirs,
        ctor: (theirs as object | null)?.constructor?.name,
        json: JSON.stringify(theirs),
      });
      return 0;
    }
    expect(isObject(ours)).toBe(true);
    const o = ours as Parts;
    expect({ path, proto: Object.getPrototypeOf(o) === Object.getPrototypeOf(theirs), json: o._json === theirs._json || JSON.stringify(o._json) === JSON.stringify(theirs._json), type: o._typeInfo === theirs._typeInfo }).toEqual({
      path,
      proto: true,
      json: true,
      type: true,
    });
    const keys = Object.keys(theirs);
    expect(Object.keys(o)).toEqual(keys);
    const getter = keys[0] ? Object.getOwnPropertyDescriptor(o, keys[0])?.get : undefined;
    if (getter) {
      const counts = sharedGetters.get(o._typeInfo.name) ?? new Map<unknown, number>();
      sharedGetters.set(o._typeInfo.name, counts.set(getter, (counts.get(getter) ?? 0) + 1));
    }
    if (depth === 0) return 1;
    let n = 1;
    // Each element the JSON holds: by name, by its extension (_name), or as a choice (valueQuantity → value).
    const present = Object.keys(theirs._json as object);
    for (const key of keys) {
      if (!present.some((p) => p === key || p === `_${key}` || (p.startsWith(key) && /^[A-Z]/.test(p.slice(key.length))) || p.startsWith(`_${key}`))) continue;
      n += compare(o.get(key), libraryGet.call(theirs, key), `${path}.${key}`, depth - 1);
    }
    return n;
  }

  /** Every resource in the fixtures, contained and nested ones included. */
  function fixtureResources(): { resourceType: string }[] {
    const found: { resourceType: string }[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk);
      if (typeof node !== 'object' || node === null) return;
      const record = node as Record<string, unknown>;
      if (typeof record.resourceType === 'string' && record.resourceType !== 'Bundle' && record.resourceType !== 'Parameters') found.push(record as { resourceType: string });
      Object.values(record).forEach(walk);
    };
    const files = (dir: string): string[] =>
      fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? files(path.join(dir, d.name)) : d.name.endsWith('.json') ? [path.join(dir, d.name)] : []));
    for (const file of files(path.join(__dirname, '../../fixtures'))) walk(JSON.parse(fs.readFileSync(file, 'utf8')));
    return found;
  }

  test('every element of every fixture resource, four levels down, is what the library reads', () => {
    const resources = fixtureResources();
    expect(resources.length).toBeGreaterThan(300);
    let objects = 0;
    for (const resource of resources) objects += compare(wrapRecord(wrapper, resource), wrapper.wrap(resource as never), resource.resourceType, 4);
    expect(objects).toBeGreaterThan(5000);
    // Complex elements (CodeableConcept, Coding, Reference…) came from the class's one descriptor map
    // (a choice, such as medication[x], still from the library: a getter of its own).
    for (const type of ['CodeableConcept', 'Coding', 'Reference', 'Identifier']) {
      expect({ type, shared: Math.max(...(sharedGetters.get(type) ?? new Map<unknown, number>()).values()) > 100 }).toEqual({ type, shared: true });
    }
  });

  test('odd shapes read as the library reads them: a list given as an object, an object given as a list, nulls in a list, paths and explicit choices', () => {
    const odd = {
      resourceType: 'Observation',
      status: 'final',
      _status: { extension: [{ url: 'http://example.org/x', valueString: 'y' }] },
      category: { coding: [{ code: 'laboratory' }] },
      code: [{ coding: [{ code: '1' }] }],
      performer: [null, { reference: 'Practitioner/1' }],
      valueQuantity: { value: 3, unit: 'mg' },
      _effectiveDateTime: { extension: [] },
      effectiveDateTime: '2025-01-02',
    };
    // Primitive lists whose values and extensions differ in length and hold nulls; choices of every kind.
    const patient = {
      resourceType: 'Patient',
      name: [{ given: ['Ann', null, 'Cy'], _given: [null, { extension: [{ url: 'http://example.org/g', valueCode: 'x' }] }, null, { id: 'extra' }] }],
      birthDate: '2000-01-01',
      _birthDate: { id: 'b' },
      deceasedBoolean: false,
      multipleBirthInteger: 2,
      _gender: { extension: [] },
    };
    const reads: [object, string][] = [
      ...['status', 'category', 'code', 'performer', 'value', 'valueQuantity', 'code.coding', 'effective', 'effectiveDateTime', 'subject', 'noSuchElement'].map((f) => [odd, f] as [object, string]),
      ...['name', 'birthDate', 'deceased', 'multipleBirth', 'gender', 'address'].map((f) => [patient, f] as [object, string]),
      // A choice given by its extension alone; a SimpleQuantity choice (dose[x]).
      [{ resourceType: 'Observation', status: 'final', code: { text: 'x' }, _valueString: { id: 'v' } }, 'value'],
      [{ resourceType: 'Dosage', doseAndRate: [{ doseQuantity: { value: 100, unit: 'mg' } }] }, 'doseAndRate'],
    ];
    for (const [resource, field] of reads) {
      const ours = wrapRecord(wrapper, resource as { resourceType: string }) as unknown as Parts;
      const theirs = wrapper.wrap(resource as never) as unknown as Parts;
      let expected: unknown;
      let thrown: unknown;
      try {
        expected = libraryGet.call(theirs, field);
      } catch (error) {
        thrown = error;
      }
      if (thrown) expect(() => ours.get(field)).toThrow((thrown as Error).message);
      else compare(ours.get(field), expected, field, 3);
    }
  });
});
