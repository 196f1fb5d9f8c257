import fs from 'node:fs';
import path from 'node:path';
import { ArtifactLoadError, loadArtifacts, type ArtifactPaths } from '../../src/dtr/artifacts';
import { BASE, copyFixtures, fixtureArtifacts } from './support/fixtures';

const decode = (data: string | undefined): string => Buffer.from(data ?? '', 'base64').toString('utf8');

describe('CQL libraries published as FHIR Libraries', () => {
  const { paths, artifacts } = fixtureArtifacts();
  const policy = artifacts.byId('Library', 'DtrFixturePolicy')!;

  test('identity: url, version, name, status, type logic-library', () => {
    expect(policy).toMatchObject({
      resourceType: 'Library',
      id: 'DtrFixturePolicy',
      url: `${BASE}/Library/DtrFixturePolicy`,
      version: '1.2.0',
      name: 'DtrFixturePolicy',
      status: 'active',
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/library-type', code: 'logic-library' }] },
    });
  });

  test('content: the CQL source and its ELM, base64, byte for byte', () => {
    const cql = policy.content?.find((c) => c.contentType === 'text/cql');
    const elm = policy.content?.find((c) => c.contentType === 'application/elm+json');
    expect(decode(cql?.data)).toBe(fs.readFileSync(path.join(paths.cql, 'DtrFixturePolicy.cql'), 'utf8'));
    expect(decode(elm?.data)).toBe(fs.readFileSync(path.join(paths.elm, 'DtrFixturePolicy.json'), 'utf8'));
    expect(policy.content).toHaveLength(2);
  });

  test('relatedArtifact: depends-on closure with version-specific canonicals', () => {
    expect(policy.relatedArtifact).toEqual([
      { type: 'depends-on', display: 'Library DtrFixtureCommon 2.1.0', resource: `${BASE}/Library/DtrFixtureCommon|2.1.0` },
      { type: 'depends-on', display: 'Library DtrFixtureHelpers 1.0.0', resource: `${BASE}/Library/DtrFixtureHelpers|1.0.0` },
    ]);
    expect(artifacts.byId('Library', 'DtrFixtureHelpers')!.relatedArtifact).toBeUndefined();
    expect(artifacts.libraryClosure('DtrFixturePolicy')).toEqual(['DtrFixturePolicy', 'DtrFixtureCommon', 'DtrFixtureHelpers']);
  });

  test('dataRequirement: each retrieved type, with the value set or code it filters on', () => {
    expect(policy.dataRequirement).toEqual(
      expect.arrayContaining([
        {
          type: 'Condition',
          profile: ['http://hl7.org/fhir/StructureDefinition/Condition'],
          codeFilter: [{ path: 'code', valueSet: `${BASE}/ValueSet/dtr-fixture-diagnoses` }],
        },
        {
          type: 'MedicationRequest',
          profile: ['http://hl7.org/fhir/StructureDefinition/MedicationRequest'],
          codeFilter: [{ path: 'medication', valueSet: `${BASE}/ValueSet/dtr-fixture-prior-drugs` }],
        },
        { type: 'Patient', profile: ['http://hl7.org/fhir/StructureDefinition/Patient'] },
      ]),
    );
    expect(policy.dataRequirement).toHaveLength(3);
    const common = artifacts.byId('Library', 'DtrFixtureCommon')!;
    expect(common.dataRequirement).toEqual(
      expect.arrayContaining([
        {
          type: 'Observation',
          profile: ['http://hl7.org/fhir/StructureDefinition/Observation'],
          codeFilter: [{ path: 'code', code: [{ system: 'http://loinc.org', code: '29463-7', display: 'Body weight' }] }],
        },
        { type: 'Condition', profile: ['http://hl7.org/fhir/StructureDefinition/Condition'] },
      ]),
    );
    // A library without retrieves declares no data requirements.
    expect(artifacts.byId('Library', 'DtrFixtureHelpers')!.dataRequirement).toBeUndefined();
  });

  test('the ELM value sets and definitions are exposed for packaging and checks', () => {
    const loaded = artifacts.library('DtrFixturePolicy')!;
    expect(loaded.valueSets).toEqual([`${BASE}/ValueSet/dtr-fixture-diagnoses`, `${BASE}/ValueSet/dtr-fixture-prior-drugs`]);
    expect(loaded.definitions).toEqual(expect.arrayContaining(['Has Diagnosis', 'Had Prior Drug', 'Latest Weight Date']));
  });

  test('resources are frozen: a caller cannot change what the next request gets', () => {
    expect(() => {
      (policy as { version?: string }).version = '9';
    }).toThrow(TypeError);
  });
});

describe('ArtifactRepository lookups', () => {
  const { artifacts } = fixtureArtifacts();

  test.each([
    ['Questionnaire', `${BASE}/Questionnaire/dtr-fixture`, 'dtr-fixture'],
    ['Questionnaire', `${BASE}/Questionnaire/dtr-fixture|1.0.0`, 'dtr-fixture'],
    ['Library', `${BASE}/Library/DtrFixtureCommon|2.1.0`, 'DtrFixtureCommon'],
    ['ValueSet', `${BASE}/ValueSet/dtr-fixture-diagnoses`, 'dtr-fixture-diagnoses'],
  ] as const)('byCanonical(%s, %s)', (type, canonical, id) => {
    expect(artifacts.byCanonical(type, canonical)?.id).toBe(id);
  });

  test.each([
    ['Questionnaire', `${BASE}/Questionnaire/dtr-fixture|2.0.0`],
    ['Questionnaire', `${BASE}/Questionnaire/unknown`],
    ['Library', `${BASE}/Library/DtrFixtureCommon|1.0.0`],
  ] as const)('byCanonical(%s, %s) is undefined', (type, canonical) => {
    expect(artifacts.byCanonical(type, canonical)).toBeUndefined();
  });

  test('byId, and Library by its CQL name', () => {
    expect(artifacts.byId('Questionnaire', 'dtr-fixture')?.url).toBe(`${BASE}/Questionnaire/dtr-fixture`);
    expect(artifacts.byId('Library', 'DtrFixtureHelpers')?.name).toBe('DtrFixtureHelpers');
    expect(artifacts.byId('ValueSet', 'nope')).toBeUndefined();
  });

  test('every loaded artifact carries meta.lastUpdated', () => {
    for (const type of ['Questionnaire', 'Library', 'ValueSet'] as const) {
      for (const resource of artifacts.list(type)) expect(Number.isNaN(artifacts.lastUpdated(resource).getTime())).toBe(false);
    }
  });

  test('expandValueSet: the stored expansion', () => {
    const expanded = artifacts.expandValueSet(`${BASE}/ValueSet/dtr-fixture-diagnoses`);
    expect(expanded?.expansion?.contains?.map((c) => c.code)).toEqual(['M05.79', '69896004']);
  });

  test('expandValueSet: computed from an enumerated compose when no expansion is stored', () => {
    const expanded = artifacts.expandValueSet(`${BASE}/ValueSet/dtr-fixture-specialties|2024.1`);
    expect(expanded?.expansion).toMatchObject({
      total: 2,
      contains: [
        { system: 'http://nucc.org/provider-taxonomy', code: '207RR0500X', display: 'Rheumatology Physician' },
        { system: 'http://nucc.org/provider-taxonomy', code: '207RI0200X', display: 'Infectious Disease Physician' },
      ],
    });
    expect(expanded?.expansion?.timestamp).toBeDefined();
  });

  test('expandValueSet: undefined when unknown or when a filter needs a terminology server', () => {
    expect(artifacts.expandValueSet(`${BASE}/ValueSet/unknown`)).toBeUndefined();
    expect(artifacts.expandValueSet(`${BASE}/ValueSet/dtr-fixture-not-expandable`)).toBeUndefined();
  });
});

describe('loading fails on inconsistent content, naming the file', () => {
  const breakages: [string, (p: ArtifactPaths) => void, RegExp][] = [
    [
      'two CQL files declare the same library name',
      (p) => fs.copyFileSync(path.join(p.cql, 'DtrFixtureHelpers.cql'), path.join(p.cql, 'Copy.cql')),
      /library name DtrFixtureHelpers is also declared in/,
    ],
    ['a library without ELM', (p) => fs.rmSync(path.join(p.elm, 'DtrFixtureCommon.json')), /no ELM at .*DtrFixtureCommon\.json; run `npm run build:cql`/],
    [
      'ELM older than its CQL',
      (p) => fs.utimesSync(path.join(p.elm, 'DtrFixtureCommon.json'), new Date(2000, 0, 1), new Date(2000, 0, 1)),
      /DtrFixtureCommon\.json is older than .*DtrFixtureCommon\.cql/,
    ],
    [
      'ELM built from another version of the source',
      (p) => {
        const file = path.join(p.cql, 'DtrFixtureHelpers.cql');
        fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace("version '1.0.0'", "version '1.0.1'"));
        fs.utimesSync(path.join(p.elm, 'DtrFixtureHelpers.json'), new Date(), new Date(Date.now() + 60_000));
      },
      /ELM is for DtrFixtureHelpers 1\.0\.0, source declares DtrFixtureHelpers 1\.0\.1/,
    ],
    [
      'a library without a version',
      (p) => fs.writeFileSync(path.join(p.cql, 'Unversioned.cql'), 'library Unversioned\n'),
      /Unversioned\.cql: library Unversioned has no version/,
    ],
    [
      'two Questionnaires with one canonical',
      (p) => {
        const q = JSON.parse(fs.readFileSync(path.join(p.questionnaires, 'dtr-fixture.json'), 'utf8'));
        fs.writeFileSync(path.join(p.questionnaires, 'copy.json'), JSON.stringify({ ...q, id: 'copy' }));
      },
      /two Questionnaire resources have url http:\/\/pa\.example\.org\/fhir\/Questionnaire\/dtr-fixture and version 1\.0\.0/,
    ],
    [
      'a Questionnaire without url',
      (p) => fs.writeFileSync(path.join(p.questionnaires, 'bad.json'), JSON.stringify({ resourceType: 'Questionnaire', id: 'bad', status: 'draft' })),
      /bad\.json: Questionnaire\.url is required/,
    ],
    ['a file that is not JSON', (p) => fs.writeFileSync(path.join(p.valueSets, 'broken.json'), '{'), /broken\.json: not valid JSON/],
    [
      'a ValueSet file holding another resource',
      (p) => fs.writeFileSync(path.join(p.valueSets, 'odd.json'), JSON.stringify({ resourceType: 'CodeSystem', id: 'odd' })),
      /odd\.json: expected a ValueSet resource/,
    ],
  ];

  test.each(breakages)('%s', (_label, breakIt, message) => {
    const paths = copyFixtures();
    expect(() => loadArtifacts(paths)).not.toThrow();
    breakIt(paths);
    expect(() => loadArtifacts(paths)).toThrow(ArtifactLoadError);
    expect(() => loadArtifacts(paths)).toThrow(message);
  });

  test('an include that is not among the libraries', () => {
    const paths = copyFixtures();
    fs.rmSync(path.join(paths.cql, 'DtrFixtureHelpers.cql'));
    expect(() => loadArtifacts(paths)).toThrow(/DtrFixtureCommon\.cql: includes DtrFixtureHelpers, which is not in/);
  });
});
