import type { Bundle, Library, Questionnaire, QuestionnaireItem, QuestionnaireResponse } from 'fhir/r4';
import { checkPackageBundle, reviewPackageBundle } from '../support/dtr-conformance';
import { questionnairePackage } from '../../src/dtr/questionnaire-package';
import { BASE, fixtureArtifacts, medicationOrder, packageInput, packageOf } from './support/fixtures';

const { artifacts } = fixtureArtifacts();
let pristine: Bundle;

beforeAll(async () => {
  const { body } = await questionnairePackage(packageInput({ questionnaire: [`${BASE}/Questionnaire/dtr-fixture`], order: [medicationOrder()] }), { artifacts });
  pristine = packageOf(body);
});

/** A mutable deep copy of the package and handles on its parts. */
function copy(): { bundle: Bundle; q: Questionnaire; libraries: Library[]; qr: QuestionnaireResponse; item: (linkId: string) => QuestionnaireItem } {
  const bundle = structuredClone(pristine);
  const resources = bundle.entry!.map((e) => e.resource!);
  const q = resources[0] as Questionnaire;
  const find = (items: QuestionnaireItem[] | undefined, linkId: string): QuestionnaireItem | undefined => {
    for (const i of items ?? []) {
      const hit = i.linkId === linkId ? i : find(i.item, linkId);
      if (hit) return hit;
    }
    return undefined;
  };
  return {
    bundle,
    q,
    libraries: resources.filter((r): r is Library => r.resourceType === 'Library'),
    qr: resources.find((r): r is QuestionnaireResponse => r.resourceType === 'QuestionnaireResponse')!,
    item: (linkId) => find(q.item, linkId)!,
  };
}

const library = (p: ReturnType<typeof copy>, name: string): Library => p.libraries.find((l) => l.name === name)!;
const dropEntry = (p: ReturnType<typeof copy>, predicate: (r: { resourceType: string; id?: string; name?: string }) => boolean): void => {
  p.bundle.entry = p.bundle.entry!.filter((e) => !predicate(e.resource as { resourceType: string }));
};

test('the fixture package passes every check, without warnings', () => {
  expect(reviewPackageBundle(pristine)).toEqual({ errors: [], warnings: [] });
});

test('not a Bundle', () => {
  expect(checkPackageBundle({ resourceType: 'Parameters' })).toEqual(['not a Bundle']);
});

const breakages: [string, (p: ReturnType<typeof copy>) => void, string][] = [
  // Bundle
  ['Bundle.type searchset', (p) => void (p.bundle.type = 'searchset'), 'Bundle.type is searchset; a questionnaire package is a collection'],
  ['Questionnaire not first (dtrb-1)', (p) => void p.bundle.entry!.push(p.bundle.entry!.shift()!), 'dtrb-1: the first entry of the Bundle must be the Questionnaire'],
  ['a foreign resource', (p) => void p.bundle.entry!.push({ resource: { resourceType: 'Patient', id: 'x' } }), 'Bundle.entry[8] is a Patient'],
  ['no draft QuestionnaireResponse', (p) => dropEntry(p, (r) => r.resourceType === 'QuestionnaireResponse'), 'the package holds no draft QuestionnaireResponse'],
  // Libraries
  [
    'Library without ELM',
    (p) => void (library(p, 'DtrFixturePolicy').content = library(p, 'DtrFixturePolicy').content!.filter((c) => c.contentType !== 'application/elm+json')),
    'Library DtrFixturePolicy: no application/elm+json content with data',
  ],
  [
    'Library without CQL',
    (p) => void (library(p, 'DtrFixtureCommon').content = library(p, 'DtrFixtureCommon').content!.filter((c) => c.contentType !== 'text/cql')),
    'Library DtrFixtureCommon: no text/cql content with data',
  ],
  ['Library names not unique', (p) => void (library(p, 'DtrFixtureHelpers').name = 'DtrFixtureCommon'), 'name DtrFixtureCommon is not unique in the package'],
  ['Library without version', (p) => void delete library(p, 'DtrFixtureHelpers').version, 'Library DtrFixtureHelpers: version is required'],
  ['Library of another type', (p) => void (library(p, 'DtrFixtureHelpers').type = { coding: [{ code: 'asset-collection' }] }), 'type must be http://terminology.hl7.org/CodeSystem/library-type#logic-library'],
  [
    'ELM that is not the Library’s',
    (p) => {
      const lib = library(p, 'DtrFixtureHelpers');
      const elm = lib.content!.find((c) => c.contentType === 'application/elm+json')!;
      elm.data = library(p, 'DtrFixtureCommon').content!.find((c) => c.contentType === 'application/elm+json')!.data!;
    },
    'Library DtrFixtureHelpers: the ELM is for DtrFixtureCommon 2.1.0',
  ],
  ['a depends-on Library missing', (p) => dropEntry(p, (r) => r.name === 'DtrFixtureHelpers'), 'depends-on http://pa.example.org/fhir/Library/DtrFixtureHelpers|1.0.0, which is not in the package'],
  ['an ELM value set missing', (p) => dropEntry(p, (r) => r.id === 'dtr-fixture-prior-drugs'), 'the ELM uses ValueSet http://pa.example.org/fhir/ValueSet/dtr-fixture-prior-drugs, which is not in the package'],
  // ValueSets
  [
    'ValueSet not expanded',
    (p) => void delete (p.bundle.entry!.find((e) => e.resource?.id === 'dtr-fixture-diagnoses')!.resource as { expansion?: unknown }).expansion,
    'ValueSet http://pa.example.org/fhir/ValueSet/dtr-fixture-diagnoses: not expanded',
  ],
  ['answerValueSet missing', (p) => dropEntry(p, (r) => r.id === 'dtr-fixture-specialties'), 'answerValueSet http://pa.example.org/fhir/ValueSet/dtr-fixture-specialties|2024.1 is not in the package'],
  // Questionnaire
  ['cqf-library not a Library url', (p) => void (p.q.extension![0]!.valueCanonical = `${BASE}/Library/Other`), 'cqf-library http://pa.example.org/fhir/Library/Other is not the url (and version) of a Library in the package'],
  ['no cqf-library', (p) => void (p.q.extension = p.q.extension!.filter((e) => !e.url.endsWith('cqf-library'))), 'no cqf-library extension names the CQL library'],
  ['url not [base]/Questionnaire/[id]', (p) => void (p.q.url = `${BASE}/forms/dtr-fixture`), 'url http://pa.example.org/fhir/forms/dtr-fixture is not of the form [base]/Questionnaire/dtr-fixture'],
  ['subjectType not Patient', (p) => void (p.q.subjectType = ['Practitioner']), 'subjectType must be exactly Patient'],
  ['no narrative', (p) => void delete p.q.text, 'text (narrative with content) is required'],
  ['no version', (p) => void delete p.q.version, 'version is required'],
  ['assemble-expectation', (p) => void p.q.extension!.push({ url: 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-assemble-expectation', valueCode: 'assemble-root' }), 'assemble-expectation is not allowed'],
  [
    'no patient launchContext',
    (p) => void (p.q.extension = p.q.extension!.filter((e) => !JSON.stringify(e).includes('"patient"'))),
    'no launchContext for the patient (name patient, type Patient)',
  ],
  ['no coverage launchContext', (p) => void (p.q.extension = p.q.extension!.filter((e) => !JSON.stringify(e).includes('"Coverage"'))), 'no launchContext of type Coverage'],
  ['no order launchContext', (p) => void (p.q.extension = p.q.extension!.filter((e) => !JSON.stringify(e).includes('"MedicationRequest"'))), 'no launchContext for the order'],
  [
    'no text/cql initialExpression',
    (p) => {
      for (const linkId of ['has-diagnosis', 'prior-drug', 'last-weight-date']) {
        p.item(linkId).extension![0]!.valueExpression!.language = 'text/fhirpath';
      }
    },
    'no item has a text/cql initialExpression',
  ],
  ['CQL expression not "Library".Definition', (p) => void (p.item('prior-drug').extension![0]!.valueExpression!.expression = 'Had Prior Drug'), 'is not written "LibraryName".Definition'],
  ['CQL expression naming a library not in the package', (p) => void (p.item('prior-drug').extension![0]!.valueExpression!.expression = '"Other"."Had Prior Drug"'), 'names library Other, which is not in the package'],
  ['CQL expression naming an unknown definition', (p) => void (p.item('prior-drug').extension![0]!.valueExpression!.expression = '"DtrFixturePolicy"."Nope"'), 'library DtrFixturePolicy has no definition "Nope"'],
  [
    'hidden item pre-filled from the chart',
    (p) => void p.item('prior-drug').extension!.push({ url: 'http://hl7.org/fhir/StructureDefinition/questionnaire-hidden', valueBoolean: true }),
    'item[2].item[0] (prior-drug) is hidden but pre-filled from the chart',
  ],
  ['read-only item pre-filled from the chart', (p) => void (p.item('has-diagnosis').readOnly = true), '(has-diagnosis) is read-only but pre-filled from the chart'],
  ['enableWhen on an unknown question', (p) => void (p.item('prior-drug-reason').enableWhen![0]!.question = 'nope'), 'enableWhen.question nope is not a linkId of this Questionnaire'],
  ['duplicate linkId (que-2)', (p) => void (p.item('consult').linkId = 'prior-drug'), 'que-2: linkId prior-drug is used twice'],
  ['group without items (que-1)', (p) => void (p.item('diagnosis').item = []), 'que-1: group item[1] (diagnosis) has no items'],
  ['answerOption and answerValueSet (que-4)', (p) => void (p.item('consult').answerOption = [{ valueString: 'x' }]), 'que-4: item[3] (consult) has both answerOption and answerValueSet'],
  ['answer options on a boolean (que-5)', (p) => void (p.item('has-diagnosis').answerOption = [{ valueString: 'x' }]), 'que-5: item[1].item[0] (has-diagnosis) of type boolean cannot have answer options'],
  [
    'several enableWhen without enableBehavior (que-12)',
    (p) => void p.item('prior-drug-reason').enableWhen!.push({ question: 'has-diagnosis', operator: '=', answerBoolean: true }),
    'que-12: item[2].item[1] (prior-drug-reason) has several enableWhen and no enableBehavior',
  ],
  ['item without text', (p) => void delete p.item('last-weight-date').text, 'item[4] (last-weight-date): text is required'],
  [
    'two initialExpressions on one item',
    (p) => void p.item('prior-drug').extension!.push(structuredClone(p.item('prior-drug').extension![0]!)),
    'sdc-questionnaire-initialExpression may appear at most once',
  ],
  [
    'reference item without referenceResource (dtrq-4)',
    (p) => void p.q.item!.push({ linkId: 'ref', type: 'reference', text: 'Which order?' }),
    'dtrq-4: reference item[5] (ref) has no referenceResource',
  ],
  // QuestionnaireResponse
  ['draft not in-progress', (p) => void (p.qr.status = 'completed'), 'status is completed; a draft is in-progress'],
  ['draft for another Questionnaire', (p) => void (p.qr.questionnaire = `${BASE}/Questionnaire/other|1`), 'not the package\'s Questionnaire'],
  ['draft without Coverage context', (p) => void (p.qr.extension = p.qr.extension!.filter((e) => !e.valueReference?.reference?.startsWith('Coverage/'))), 'no qr-context references the Coverage'],
  ['draft without order context', (p) => void (p.qr.extension = p.qr.extension!.filter((e) => !e.valueReference?.reference?.startsWith('MedicationRequest/'))), 'no qr-context references the order'],
  ['draft without intendedUse', (p) => void (p.qr.extension = p.qr.extension!.filter((e) => !e.url.endsWith('intendedUse'))), 'intendedUse is required'],
  ['draft with a non-DocReason intendedUse', (p) => void (p.qr.extension!.at(-1)!.valueCodeableConcept = { coding: [{ code: 'whatever' }] }), 'intendedUse must be a code of the CRD DocReason value set'],
  ['draft subject not a Patient', (p) => void (p.qr.subject = { reference: 'Group/1' }), 'subject must reference a Patient'],
  ['answer without information-origin', (p) => void (p.qr.item![2]!.answer = [{ valueCoding: { code: '207RR0500X' } }]), 'needs exactly one information-origin extension'],
  [
    'manual answer without author (dtrx-1)',
    (p) =>
      void (p.qr.item![2]!.answer = [
        {
          valueCoding: { code: '207RR0500X' },
          extension: [{ url: 'http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/information-origin', extension: [{ url: 'source', valueCode: 'manual' }] }],
        },
      ]),
    'dtrx-1',
  ],
  ['draft item not in the Questionnaire', (p) => void p.qr.item!.push({ linkId: 'ghost' }), 'item[4] (ghost): linkId is not in the Questionnaire'],
];

test.each(breakages)('%s → error', (_label, breakIt, message) => {
  const p = copy();
  breakIt(p);
  const errors = checkPackageBundle(p.bundle);
  expect(errors).toEqual(expect.arrayContaining([expect.stringContaining(message)]));
});

test.each([
  ['choice without answer options (dtrq-2)', (p: ReturnType<typeof copy>) => void delete p.item('consult').answerValueSet, 'dtrq-2'],
  ['quantity without units (dtrq-3)', (p: ReturnType<typeof copy>) => void p.q.item!.push({ linkId: 'dose', type: 'quantity', text: 'Dose' }), 'dtrq-3'],
  ['unversioned draft canonical', (p: ReturnType<typeof copy>) => void (p.qr.questionnaire = `${BASE}/Questionnaire/dtr-fixture`), 'is not version-specific'],
])('%s → warning only', (_label, breakIt, message) => {
  const p = copy();
  breakIt(p);
  const { errors, warnings } = reviewPackageBundle(p.bundle);
  expect(errors).toEqual([]);
  expect(warnings.some((w) => w.includes(message))).toBe(true);
});
