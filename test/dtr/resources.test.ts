import type { OperationOutcome, ValueSet } from 'fhir/r4';
import { OperationOutcomeError } from '../../src/fhir/outcomes';
import { expandValueSetOperation, readArtifact, searchArtifacts } from '../../src/dtr/resources';
import { BASE, fixtureArtifacts } from './support/fixtures';

const { artifacts } = fixtureArtifacts();

function thrown(fn: () => unknown): OperationOutcomeError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(OperationOutcomeError);
    return error as OperationOutcomeError;
  }
  throw new Error('expected an OperationOutcomeError');
}

describe('read', () => {
  test.each([
    ['Questionnaire', 'dtr-fixture', `${BASE}/Questionnaire/dtr-fixture`],
    ['Library', 'DtrFixturePolicy', `${BASE}/Library/DtrFixturePolicy`],
    ['ValueSet', 'dtr-fixture-diagnoses', `${BASE}/ValueSet/dtr-fixture-diagnoses`],
  ])('GET /fhir/%s/%s', (type, id, url) => {
    const { status, body } = readArtifact(artifacts, type, id);
    expect(status).toBe(200);
    expect(body).toMatchObject({ resourceType: type, id, url });
  });

  test.each([
    ['Questionnaire', 'unknown', 'Questionnaire/unknown is not known'],
    ['Library', 'Nope', 'Library/Nope is not known'],
    ['Patient', '1', 'This server publishes no Patient resources'],
  ])('GET /fhir/%s/%s → 404 not-found', (type, id, text) => {
    const error = thrown(() => readArtifact(artifacts, type, id));
    expect(error.status).toBe(404);
    expect(error.outcome.issue[0]).toMatchObject({ code: 'not-found', diagnostics: text });
  });
});

describe('search by url', () => {
  test('url → searchset with the match, absolute fullUrl and self link', () => {
    const { status, body } = searchArtifacts(artifacts, 'Questionnaire', { url: `${BASE}/Questionnaire/dtr-fixture` }, 'https://pa.test/fhir');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      resourceType: 'Bundle',
      type: 'searchset',
      total: 1,
      link: [{ relation: 'self', url: `https://pa.test/fhir/Questionnaire?url=${encodeURIComponent(`${BASE}/Questionnaire/dtr-fixture`)}` }],
      entry: [{ fullUrl: 'https://pa.test/fhir/Questionnaire/dtr-fixture', search: { mode: 'match' } }],
    });
  });

  test.each([
    [{ url: `${BASE}/Library/DtrFixtureCommon|2.1.0` }, ['DtrFixtureCommon']],
    [{ url: `${BASE}/Library/DtrFixtureCommon`, version: '9' }, []],
    [{ name: 'DtrFixtureHelpers' }, ['DtrFixtureHelpers']],
    [{}, ['DtrFixtureCommon', 'DtrFixtureHelpers', 'DtrFixturePolicy']],
  ])('Library?%j', (query, ids) => {
    const { body } = searchArtifacts(artifacts, 'Library', query);
    expect(body.entry!.map((e) => e.resource!.id).sort()).toEqual(ids);
    expect(body.total).toBe(ids.length);
  });

  test('an unsupported parameter is ignored and reported in an outcome entry', () => {
    const { body } = searchArtifacts(artifacts, 'ValueSet', { url: `${BASE}/ValueSet/dtr-fixture-diagnoses`, title: 'x' });
    expect(body.total).toBe(1);
    const outcome = body.entry!.find((e) => e.search?.mode === 'outcome')!.resource as OperationOutcome;
    expect(outcome.issue[0]).toMatchObject({ severity: 'warning', code: 'not-supported', expression: ['title'] });
  });

  test('a parameter given twice → 400', () => {
    const error = thrown(() => searchArtifacts(artifacts, 'ValueSet', { url: ['a', 'b'] }));
    expect(error.status).toBe(400);
    expect(error.outcome.issue[0]?.expression).toEqual(['url']);
  });
});

describe('ValueSet/$expand', () => {
  test('by url: the expansion', () => {
    const { status, body } = expandValueSetOperation(artifacts, { url: `${BASE}/ValueSet/dtr-fixture-prior-drugs` });
    expect(status).toBe(200);
    expect(body.expansion?.contains?.map((c) => c.code)).toEqual(['6851', '105585']);
  });

  test('by url|version, by url + valueSetVersion, and by id', () => {
    const codes = (v: ValueSet): string[] => (v.expansion?.contains ?? []).map((c) => c.code!);
    expect(codes(expandValueSetOperation(artifacts, { url: `${BASE}/ValueSet/dtr-fixture-specialties|2024.1` }).body)).toHaveLength(2);
    expect(codes(expandValueSetOperation(artifacts, { url: `${BASE}/ValueSet/dtr-fixture-specialties`, valueSetVersion: '2024.1' }).body)).toHaveLength(2);
    expect(codes(expandValueSetOperation(artifacts, {}, 'dtr-fixture-specialties').body)).toEqual(['207RR0500X', '207RI0200X']);
  });

  test('filter, offset and count page through the codes', () => {
    const filtered = expandValueSetOperation(artifacts, { url: `${BASE}/ValueSet/dtr-fixture-specialties`, filter: 'RHEUM' }).body;
    expect(filtered.expansion).toMatchObject({ total: 1, offset: 0, contains: [{ code: '207RR0500X' }] });
    const paged = expandValueSetOperation(artifacts, { url: `${BASE}/ValueSet/dtr-fixture-specialties`, offset: '1', count: '1' }).body;
    expect(paged.expansion).toMatchObject({ total: 2, offset: 1, contains: [{ code: '207RI0200X' }] });
  });

  test.each([
    [{}, 400, 'url'],
    [{ url: `${BASE}/ValueSet/unknown` }, 404, undefined],
    [{ url: `${BASE}/ValueSet/dtr-fixture-not-expandable` }, 422, 'url'],
    [{ url: `${BASE}/ValueSet/dtr-fixture-specialties`, count: '-1' }, 400, 'count'],
  ])('%j → %i', (query, status, expression) => {
    const error = thrown(() => expandValueSetOperation(artifacts, query));
    expect(error.status).toBe(status);
    if (expression) expect(error.outcome.issue[0]?.expression).toEqual([expression]);
  });

  test('the stored resource is not changed by a filtered expansion', () => {
    expandValueSetOperation(artifacts, { url: `${BASE}/ValueSet/dtr-fixture-diagnoses`, filter: 'snomed-nothing' });
    const again = expandValueSetOperation(artifacts, { url: `${BASE}/ValueSet/dtr-fixture-diagnoses` }).body as ValueSet;
    expect(again.expansion?.contains).toHaveLength(2);
  });
});
