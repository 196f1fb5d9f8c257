/**
 * Issue 12, DTR: each policy's `$questionnaire-package` works on its own, as a third-party DTR app
 * runs it. DTR 2.0.1 (specification.html, "Populating questionnaires"): the DTR app executes the
 * CQL of the Libraries the package returns, with the ValueSets the package returns, against the
 * EHR's data, given only the launch context (patient, coverage, order). So here: nothing of this
 * server's engine, only cql-execution + cql-exec-fhir over the package's ELM and ValueSet
 * expansions, no CQL parameters set (a generic app knows none of ours), every initialExpression
 * evaluated; the answers must equal what the server's `$populate` returns for the same chart.
 */
import request from 'supertest';
import { Code, CodeService, Concept, Date as CqlDate, DateTime, Executor, Quantity, Repository } from 'cql-execution';
import { PatientSource } from 'cql-exec-fhir';
import type {
  Bundle,
  Coverage,
  Extension,
  FhirResource,
  Library,
  MedicationRequest,
  Parameters,
  Questionnaire,
  QuestionnaireItem,
  QuestionnaireResponse,
  QuestionnaireResponseItem,
  QuestionnaireResponseItemAnswer,
  ValueSet,
} from 'fhir/r4';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, loadConfig } from '../../src/config';
import { createTestApp, EVALUATION_DATE, type TestApp } from '../support/app';

jest.setTimeout(180_000);

const Q = 'http://pa.example.org/fhir/Questionnaire';
/** [policy folder, chart, Questionnaire id] */
const CASES: [string, string, string][] = [
  ['cp-phar-244', 'ra-approvable', 'cp-phar-244-kineret'],
  ['nh-phar-244', 'ra-one-preferred-product', 'nh-phar-244-kineret'],
  ['molina-kineret', 'ra-mtx-inadequate', 'molina-kineret'],
  ['mm-201603', 'ra-approvable', 'mm-201603-kineret'],
  ['mm-201603', 'stills-adult', 'mm-201603-kineret'],
  ['cp-phar-533', 'rrmm-approvable', 'cp-phar-533-carvykti'],
];

let t: TestApp;
beforeAll(async () => {
  // A decision that times out on a loaded machine pends; these tests are about the answer, not the time.
  t = await createTestApp({ evaluation: { ...loadConfig().evaluation, timeoutMs: 60_000 } });
});
afterAll(async () => t.close());

function chartOf(folder: string, name: string): FhirResource[] {
  const bundle = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'fixtures', folder, `${name}.json`), 'utf8')) as Bundle;
  return (bundle.entry ?? []).map((e) => e.resource!);
}

async function packageFor(coverage: Coverage, order: MedicationRequest, questionnaire: string): Promise<FhirResource[]> {
  const res = await request(t.app)
    .post('/fhir/Questionnaire/$questionnaire-package')
    .set('content-type', 'application/fhir+json')
    .send({ resourceType: 'Parameters', parameter: [{ name: 'coverage', resource: coverage }, { name: 'order', resource: order }, { name: 'questionnaire', valueCanonical: `${Q}/${questionnaire}` }] });
  expect(res.status).toBe(200);
  const bundle = (res.body as Parameters).parameter?.find((p) => p.name === 'PackageBundle')?.resource as Bundle;
  return (bundle.entry ?? []).map((e) => e.resource!);
}

/** The initialExpression (CQL) of every item, by linkId. */
function initialExpressions(items: QuestionnaireItem[] | undefined, out = new Map<string, string>()): Map<string, string> {
  for (const item of items ?? []) {
    const expr = item.extension?.find((e) => e.url === 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-initialExpression')?.valueExpression;
    if (expr?.expression && expr.language === 'text/cql') out.set(item.linkId, expr.expression);
    initialExpressions(item.item, out);
  }
  return out;
}

/**
 * What a DTR app does with the package: its ELM and its expansions, nothing else; the chart as the
 * EHR returns it; no parameters. Answers by linkId (plain values), and how many items had an expression.
 */
async function standaloneAnswers(resources: FhirResource[], chart: FhirResource[], patientId: string): Promise<{ answers: Map<string, unknown[]>; items: number }> {
  const questionnaire = resources.find((r): r is Questionnaire => r.resourceType === 'Questionnaire')!;
  const libraries = resources.filter((r): r is Library => r.resourceType === 'Library');
  const valueSets = resources.filter((r): r is ValueSet => r.resourceType === 'ValueSet');
  const elms = libraries.map((l) => {
    const data = l.content?.find((c) => c.contentType === 'application/elm+json')?.data;
    if (!data) throw new Error(`Library ${l.url} has no ELM`);
    return JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { library: { identifier: { id: string; version: string } } };
  });
  const repository = new Repository(Object.fromEntries(elms.map((e) => [e.library.identifier.id, e])));
  const codes: Record<string, Record<string, { code: string; system: string }[]>> = {};
  for (const vs of valueSets) {
    const list = (vs.expansion?.contains ?? []).filter((c) => c.code && c.system).map((c) => ({ code: c.code!, system: c.system! }));
    codes[vs.url!] = { ...(codes[vs.url!] ?? {}), [vs.version ?? '']: list };
  }
  const mainCanonical = questionnaire.extension?.find((e: Extension) => e.url === 'http://hl7.org/fhir/StructureDefinition/cqf-library')?.valueCanonical ?? '';
  const main = libraries.find((l) => l.url === mainCanonical.split('|')[0]);
  const lib = main && repository.resolve(main.name!, main.version);
  if (!lib) throw new Error(`the package's main library ${mainCanonical} does not resolve`);
  const source = PatientSource.FHIRv401();
  source.loadBundles([{ resourceType: 'Bundle', type: 'collection', entry: chart.map((resource) => ({ resource })) }]);
  const result = await new Executor(lib, new CodeService(codes), {}).exec(source, DateTime.fromJSDate(EVALUATION_DATE, 0));
  const values = (result.patientResults as Record<string, Record<string, unknown>>)[patientId] ?? {};
  const expressions = initialExpressions(questionnaire.item);
  const answers = new Map<string, unknown[]>();
  for (const [linkId, expression] of expressions) {
    const definition = QUALIFIED.exec(expression)?.[2] ?? expression;
    const value = plain(values[definition]);
    if (value.length > 0) answers.set(linkId, value);
  }
  return { answers, items: expressions.size };
}

const QUALIFIED = /^"?([^".]+)"?\."?([^"]+)"?$/;

/** A CQL value as the plain value of an answer (a code as its code, a quantity as its value). */
function plain(value: unknown): unknown[] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) return value.flatMap(plain);
  if (value instanceof Code) return [value.code];
  if (value instanceof Concept) return value.codes.slice(0, 1).map((c) => c.code);
  if (value instanceof Quantity) return [value.value];
  if (value instanceof CqlDate) return [value.toString()];
  if (value instanceof DateTime) return [value.toString().slice(0, 10)];
  return [value];
}

function answerPlain(answer: QuestionnaireResponseItemAnswer): unknown {
  if (answer.valueCoding) return answer.valueCoding.code;
  if (answer.valueQuantity) return answer.valueQuantity.value;
  if (answer.valueDateTime) return answer.valueDateTime.slice(0, 10);
  const key = Object.keys(answer).find((k) => k.startsWith('value')) as keyof QuestionnaireResponseItemAnswer;
  return answer[key];
}

function serverAnswers(items: QuestionnaireResponseItem[] | undefined, out = new Map<string, unknown[]>()): Map<string, unknown[]> {
  for (const item of items ?? []) {
    if (item.answer?.length) out.set(item.linkId, item.answer.map(answerPlain));
    for (const a of item.answer ?? []) serverAnswers(a.item, out);
    serverAnswers(item.item, out);
  }
  return out;
}

async function populate(questionnaire: string, chart: FhirResource[], patientId: string, coverage: Coverage, order: MedicationRequest): Promise<Map<string, unknown[]>> {
  const res = await request(t.app)
    .post(`/fhir/Questionnaire/${questionnaire}/$populate`)
    .set('content-type', 'application/fhir+json')
    .send({
      resourceType: 'Parameters',
      parameter: [
        { name: 'subject', valueReference: { reference: `Patient/${patientId}` } },
        { name: 'context', part: [{ name: 'name', valueString: 'coverage' }, { name: 'content', resource: coverage }] },
        { name: 'context', part: [{ name: 'name', valueString: 'order' }, { name: 'content', valueReference: { reference: `MedicationRequest/${order.id}` } }] },
        { name: 'context', part: [{ name: 'name', valueString: 'data' }, { name: 'content', resource: { resourceType: 'Bundle', type: 'collection', entry: chart.map((resource) => ({ resource })) } }] },
      ],
    });
  expect(res.status).toBe(200);
  const qr = (res.body as Parameters).parameter!.find((p) => p.name === 'response')!.resource as QuestionnaireResponse;
  return serverAnswers(qr.item);
}

test.each(CASES)('%s %s: the package alone answers every initialExpression as $populate does', async (folder, name, questionnaire) => {
  const chart = chartOf(folder, name);
  const patientId = chart.find((r) => r.resourceType === 'Patient')!.id!;
  const coverage = chart.find((r): r is Coverage => r.resourceType === 'Coverage')!;
  const order = chart.filter((r): r is MedicationRequest => r.resourceType === 'MedicationRequest').find((m) => m.status === 'draft')!;
  const pkg = await packageFor(coverage, order, questionnaire);
  const standalone = await standaloneAnswers(pkg, chart, patientId);
  const server = await populate(questionnaire, chart, patientId, coverage, order);
  expect(standalone.items).toBeGreaterThan(5);
  expect(Object.fromEntries(standalone.answers)).toEqual(Object.fromEntries(server));
});
