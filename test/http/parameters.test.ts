/**
 * Every operation route reads its Parameters with the one reader (src/fhir/parameters.ts): a
 * malformed Parameters is a 400 OperationOutcome whose expression names the parameter.
 */
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import type { Bundle, OperationOutcome } from 'fhir/r4';
import { createTestApp, type TestApp } from '../support/app';

const pas = JSON.parse(fs.readFileSync(path.join(__dirname, '../../fixtures/pas/kineret-request-base.json'), 'utf8')) as Bundle;
const coverage = pas.entry?.find((e) => e.resource?.resourceType === 'Coverage')?.resource;
const QUESTIONNAIRE = 'http://pa.example.org/fhir/Questionnaire/cp-phar-244-kineret';
const subject = { name: 'subject', valueReference: { reference: 'Patient/pt-ra-partial' } };

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

test.each([
  ['$questionnaire-package: a coverage that is not a resource', '/fhir/Questionnaire/$questionnaire-package', [{ name: 'coverage', valueString: 'Coverage/c' }, { name: 'questionnaire', valueCanonical: QUESTIONNAIRE }], 'Parameters.parameter[0].resource'],
  ['$questionnaire-package: context twice', '/fhir/Questionnaire/$questionnaire-package', [{ name: 'coverage', resource: coverage }, { name: 'context', valueString: 'a' }, { name: 'context', valueString: 'b' }], 'Parameters.parameter[2]'],
  ['$populate: subject twice', '/fhir/Questionnaire/$populate', [{ name: 'canonical', valueUri: QUESTIONNAIRE }, subject, subject], 'Parameters.parameter[2]'],
  ['$populate: no subject', '/fhir/Questionnaire/$populate', [{ name: 'canonical', valueUri: QUESTIONNAIRE }], "Parameters.parameter.where(name='subject')"],
  ['Questionnaire/[id]/$populate: a context part of the wrong type', '/fhir/Questionnaire/cp-phar-244-kineret/$populate', [subject, { name: 'context', part: [{ name: 'name', valueString: 'coverage' }, { name: 'content', valueBoolean: true }] }], 'Parameters.parameter[1].part[1].resource'],
  ['$next-question: a questionnaire-response that is not a resource', '/fhir/Questionnaire/$next-question', [{ name: 'questionnaire-response', valueString: 'x' }], 'Parameters.parameter[0].resource'],
  ['$log-questionnaire-errors: the OperationOutcome as a string', '/fhir/Questionnaire/$log-questionnaire-errors', [{ name: 'questionnaire', valueCanonical: QUESTIONNAIRE }, { name: 'operationOutcome', valueString: 'failed' }], 'Parameters.parameter[1].resource'],
  ['Claim/$submit: two request Bundles', '/fhir/Claim/$submit', [{ name: 'resource', resource: pas }, { name: 'resource', resource: pas }], 'Parameters.parameter[1]'],
  ['Claim/$inquire: two inquiry Bundles', '/fhir/Claim/$inquire', [{ name: 'resource', resource: pas }, { name: 'resource', resource: pas }], 'Parameters.parameter[1]'],
  ['ValueSet/$expand: count that is no number', '/fhir/ValueSet/$expand', [{ name: 'url', valueUri: 'http://pa.example.org/fhir/ValueSet/drug-kineret' }, { name: 'count', valueBoolean: true }], 'Parameters.parameter[1].valueInteger'],
])('%s → 400 naming the parameter', async (_name, url, parameter, expression) => {
  const res = await request(t.app).post(url).set('Content-Type', 'application/fhir+json').send(JSON.stringify({ resourceType: 'Parameters', parameter }));
  expect(res.status).toBe(400);
  const outcome = res.body as OperationOutcome;
  expect(outcome.resourceType).toBe('OperationOutcome');
  expect(outcome.issue[0]).toMatchObject({ severity: 'error', expression: [expression] });
});
