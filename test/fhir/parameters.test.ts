/**
 * The Parameters reader (src/fhir/parameters.ts) against OperationDefinitions: names, cardinality,
 * parts and types, each failure a 400 whose expression names the parameter; and the table of the
 * operations served (src/fhir/operation-definitions.ts) against the IG packages' own definitions.
 */
import type { OperationDefinition, OperationOutcome } from 'fhir/r4';
import { OPERATION_DEFINITIONS } from '../../src/fhir/operation-definitions';
import { operationRules, readParameters, type OperationRules, type ReadParameters } from '../../src/fhir/parameters';
import { OperationOutcomeError } from '../../src/fhir/outcomes';
import { igFile } from '../support/ig';

const definition: OperationDefinition = {
  resourceType: 'OperationDefinition',
  url: 'http://example.org/OperationDefinition/test',
  version: '1.0.0',
  name: 'Test',
  status: 'active',
  kind: 'operation',
  code: 'test',
  system: false,
  type: true,
  instance: false,
  parameter: [
    { name: 'subject', use: 'in', min: 1, max: '1', type: 'Reference' },
    { name: 'bundle', use: 'in', min: 0, max: '2', type: 'Bundle' },
    { name: 'any', use: 'in', min: 0, max: '*', type: 'Resource' },
    { name: 'flag', use: 'in', min: 0, max: '1', type: 'boolean' },
    { name: 'count', use: 'in', min: 0, max: '1', type: 'integer' },
    { name: 'url', use: 'in', min: 0, max: '1', type: 'canonical' },
    {
      name: 'context',
      use: 'in',
      min: 0,
      max: '*',
      part: [
        { name: 'name', use: 'in', min: 1, max: '1', type: 'string' },
        { name: 'content', use: 'in', min: 0, max: '*', type: 'Resource' },
      ],
    },
    { name: 'return', use: 'out', min: 1, max: '1', type: 'Bundle' },
  ],
};
const rules = operationRules(definition);
const subject = { name: 'subject', valueReference: { reference: 'Patient/p' } };
const bundle = { resourceType: 'Bundle', type: 'collection' };

function failure(body: unknown, with_: OperationRules = rules): OperationOutcome {
  try {
    readParameters(body, with_);
  } catch (error) {
    expect(error).toBeInstanceOf(OperationOutcomeError);
    expect((error as OperationOutcomeError).status).toBe(400);
    return (error as OperationOutcomeError).outcome;
  }
  throw new Error('read without an error');
}
const read = (...parameter: unknown[]): ReadParameters => readParameters({ resourceType: 'Parameters', parameter }, rules);
const failing = (...parameter: unknown[]) => failure({ resourceType: 'Parameters', parameter });

describe('readParameters', () => {
  test('well-formed input: by name, in the order sent, each with where it is and what it carries', () => {
    const params = read(subject, { name: 'bundle', resource: bundle }, { name: 'flag', valueBoolean: false }, { name: 'bundle', resource: bundle }, { name: 'url', valueCanonical: ' http://x/Q|1 ' });
    expect(params.list.map((p) => p.name)).toEqual(['subject', 'bundle', 'flag', 'bundle', 'url']);
    expect(params.all('bundle').map((p) => p.expression)).toEqual(['Parameters.parameter[1]', 'Parameters.parameter[3]']);
    expect(params.first('subject')).toMatchObject({ type: 'Reference', value: { reference: 'Patient/p' }, valueExpression: 'Parameters.parameter[0].valueReference', index: 0 });
    expect(params.first('flag')?.value).toBe(false);
    expect(params.string('url')).toBe('http://x/Q|1');
    expect(params.first('bundle')?.resource).toEqual(bundle);
  });

  test.each([
    ['not a Parameters', { resourceType: 'Bundle' }, 'Parameters', 'invalid'],
    ['not a resource', 'x', 'Parameters', 'invalid'],
    ['parameter not an array', { resourceType: 'Parameters', parameter: { name: 'subject' } }, 'Parameters.parameter', 'structure'],
    ['a parameter without a name', { resourceType: 'Parameters', parameter: [subject, { valueBoolean: true }] }, 'Parameters.parameter[1].name', 'required'],
    ['missing required (no parameter at all)', { resourceType: 'Parameters' }, "Parameters.parameter.where(name='subject')", 'required'],
    ['too many (max 1)', { resourceType: 'Parameters', parameter: [subject, subject] }, 'Parameters.parameter[1]', 'invalid'],
    ['too many (max 2)', { resourceType: 'Parameters', parameter: [{ name: 'bundle', resource: bundle }, subject, { name: 'bundle', resource: bundle }, { name: 'bundle', resource: bundle }] }, 'Parameters.parameter[3]', 'invalid'],
    ['a value where a resource is defined', { resourceType: 'Parameters', parameter: [subject, { name: 'bundle', valueString: 'x' }] }, 'Parameters.parameter[1].resource', 'invalid'],
    ['another resource type than defined', { resourceType: 'Parameters', parameter: [subject, { name: 'bundle', resource: { resourceType: 'Patient' } }] }, 'Parameters.parameter[1].resource', 'invalid'],
    ['an object without resourceType for Resource', { resourceType: 'Parameters', parameter: [subject, { name: 'any', resource: { id: 'x' } }] }, 'Parameters.parameter[1].resource', 'invalid'],
    ['a resource where a value is defined', { resourceType: 'Parameters', parameter: [{ name: 'subject', resource: { resourceType: 'Patient' } }] }, 'Parameters.parameter[0].valueReference', 'invalid'],
    ['another value type than defined', { resourceType: 'Parameters', parameter: [subject, { name: 'flag', valueString: 'true' }] }, 'Parameters.parameter[1].valueBoolean', 'invalid'],
    ['a number as a string', { resourceType: 'Parameters', parameter: [subject, { name: 'count', valueInteger: '3' }] }, 'Parameters.parameter[1].valueInteger', 'invalid'],
    ['a blank string', { resourceType: 'Parameters', parameter: [subject, { name: 'url', valueCanonical: '  ' }] }, 'Parameters.parameter[1].valueCanonical', 'invalid'],
    ['parts expected, a value given', { resourceType: 'Parameters', parameter: [subject, { name: 'context', valueString: 'x' }] }, 'Parameters.parameter[1].part', 'required'],
    ['a required part missing', { resourceType: 'Parameters', parameter: [subject, { name: 'context', part: [{ name: 'content', resource: bundle }] }] }, 'Parameters.parameter[1].part', 'required'],
    ['a part of the wrong type', { resourceType: 'Parameters', parameter: [subject, { name: 'context', part: [{ name: 'name', valueString: 'n' }, { name: 'content', valueString: 'x' }] }] }, 'Parameters.parameter[1].part[1].resource', 'invalid'],
    ['a part twice', { resourceType: 'Parameters', parameter: [subject, { name: 'context', part: [{ name: 'name', valueString: 'a' }, { name: 'name', valueString: 'b' }] }] }, 'Parameters.parameter[1].part[1]', 'invalid'],
    ['an out parameter sent in (not an in parameter: unknown, ignored) but subject missing', { resourceType: 'Parameters', parameter: [{ name: 'return', resource: bundle }] }, "Parameters.parameter.where(name='subject')", 'required'],
  ])('%s → 400 naming the parameter', (_name, body, expression, code) => {
    const outcome = failure(body);
    expect(outcome.issue[0]).toMatchObject({ severity: 'error', code, expression: [expression] });
  });

  test('a wrong parameter is not also reported missing; every problem is listed, in order', () => {
    expect(failing({ name: 'subject', valueString: 'Patient/p' }).issue.map((i) => i.expression)).toEqual([['Parameters.parameter[0].valueReference']]);
    const outcome = failing({ name: 'flag', valueString: 'x' }, { name: 'bundle', resource: {} });
    expect(outcome.issue.map((i) => i.expression)).toEqual([['Parameters.parameter[0].valueBoolean'], ['Parameters.parameter[1].resource'], ["Parameters.parameter.where(name='subject')"]]);
  });

  test('nested parts are read as parameters of their own', () => {
    const params = read(subject, { name: 'context', part: [{ name: 'name', valueString: 'patient' }, { name: 'content', resource: bundle }, { name: 'content', resource: bundle }, { name: 'other', valueString: 'ignored' }] });
    const context = params.first('context')!;
    expect(context.type).toBe('');
    expect(context.parts.string('name')).toBe('patient');
    expect(context.parts.all('content').map((p) => p.valueExpression)).toEqual(['Parameters.parameter[1].part[1].resource', 'Parameters.parameter[1].part[2].resource']);
    expect(context.parts.first('other')).toBeUndefined();
  });

  test('unknown parameters: ignored by default, a 400 naming them when the operation rejects them', () => {
    expect(read(subject, { name: 'later-version', valueString: 'x' }).list.map((p) => p.name)).toEqual(['subject']);
    const strict = operationRules(definition, { unknown: 'reject' });
    const outcome = failure({ resourceType: 'Parameters', parameter: [subject, { name: 'later-version', valueString: 'x' }] }, strict);
    expect(outcome.issue[0]).toMatchObject({ code: 'not-supported', expression: ['Parameters.parameter[1]'], diagnostics: '$test has no parameter later-version' });
  });

  test('what a server reads besides the definition: aliases, other types, extra parameters, any case', () => {
    const wider = operationRules(definition, {
      change: { url: { alsoTypes: ['uri'], aliases: ['canonical'] }, 'context.content': { types: ['Resource', 'Reference'] } },
      extra: [{ name: 'fhirServer', max: 1, types: ['url'] }],
      anyCase: true,
    });
    const params = readParameters(
      {
        resourceType: 'Parameters',
        parameter: [
          { name: 'SUBJECT', valueReference: { reference: 'Patient/p' } },
          { name: 'canonical', valueUri: 'http://x/Q' },
          { name: 'context', part: [{ name: 'name', valueString: 'n' }, { name: 'content', valueReference: { reference: 'Coverage/c' } }] },
          { name: 'fhirServer', valueUrl: 'https://ehr' },
        ],
      },
      wider,
    );
    expect(params.first('url')).toMatchObject({ sentAs: 'canonical', type: 'uri', value: 'http://x/Q', valueExpression: 'Parameters.parameter[1].valueUri' });
    expect(params.first('context')?.parts.first('content')?.type).toBe('Reference');
    expect(params.string('fhirServer')).toBe('https://ehr');
    // Aliases count with the name: one url at most.
    const twice = failure({ resourceType: 'Parameters', parameter: [subject, { name: 'url', valueCanonical: 'a' }, { name: 'canonical', valueUri: 'b' }] }, wider);
    expect(twice.issue[0]?.expression).toEqual(['Parameters.parameter[2]']);
    expect(() => operationRules(definition, { change: { nothing: { aliases: ['x'] } } })).toThrow('no parameter nothing');
    // A parameter the server does not read is not checked: it is an unknown name.
    const notRead = operationRules(definition, { notRead: ['flag'] });
    expect(readParameters({ resourceType: 'Parameters', parameter: [subject, { name: 'flag', part: [] }] }, notRead).first('flag')).toBeUndefined();
    expect(failure({ resourceType: 'Parameters', parameter: [subject, { name: 'flag', part: [] }] }).issue[0]?.expression).toEqual(['Parameters.parameter[1].valueBoolean']);
  });

  test('found by type: the named parameter, else the first one carrying the type; none is missing at the list', () => {
    const byType = operationRules(definition, { change: { bundle: { byType: true } } });
    const read2 = (...parameter: unknown[]) => readParameters({ resourceType: 'Parameters', parameter }, byType);
    const other = { resourceType: 'Bundle', type: 'batch' };
    expect(read2(subject, { name: 'payload', resource: other }, { name: 'bundle', resource: bundle }).first('bundle')?.resource).toEqual(bundle);
    expect(read2(subject, { name: 'payload', resource: other }).first('bundle')).toMatchObject({ resource: other, expression: 'Parameters.parameter[1]', sentAs: 'payload' });
    expect(read2(subject, { name: 'bundle', valueString: 'x' }).first('bundle')).toBeUndefined();
    const required = operationRules({ ...definition, parameter: [{ name: 'resource', use: 'in', min: 1, max: '1', type: 'Bundle' }] }, { change: { resource: { byType: true } } });
    expect(failure({ resourceType: 'Parameters', parameter: [{ name: 'resource', valueString: 'x' }] }, required).issue[0]).toMatchObject({ code: 'required', expression: ['Parameters.parameter'] });
  });
});

describe('the operations served, against the IG packages', () => {
  const cases: [keyof typeof OPERATION_DEFINITIONS, string, string][] = [
    ['submit', 'hl7.fhir.us.davinci-pas-2.2.1.tgz', 'OperationDefinition-Claim-submit.json'],
    ['inquire', 'hl7.fhir.us.davinci-pas-2.2.1.tgz', 'OperationDefinition-Claim-inquiry.json'],
    ['questionnairePackage', 'hl7.fhir.us.davinci-dtr-2.0.1.tgz', 'OperationDefinition-questionnaire-package.json'],
    ['logQuestionnaireErrors', 'hl7.fhir.us.davinci-dtr-2.0.1.tgz', 'OperationDefinition-log-questionnaire-errors.json'],
  ];
  const shape = (d: OperationDefinition) => ({
    url: d.url,
    version: d.version,
    code: d.code,
    resource: d.resource,
    type: d.type,
    instance: d.instance,
    parameter: (d.parameter ?? []).filter((p) => p.use === 'in').map((p) => ({ name: p.name, min: p.min, max: p.max, type: p.type, part: p.part?.map((q) => q.name) })),
  });
  test.each(cases)('%s is the IG definition (url, version, code, in parameters)', (key, tgz, file) => {
    const published = igFile<OperationDefinition>(tgz, file);
    if (!published) return; // ../shared is not beside this clone
    expect(shape(OPERATION_DEFINITIONS[key])).toEqual(shape(published));
  });

  test('every rule set names its definition canonical', () => {
    expect(operationRules(OPERATION_DEFINITIONS.submit).canonical).toBe('http://hl7.org/fhir/us/davinci-pas/OperationDefinition/Claim-submit|2.2.1');
    expect(operationRules(OPERATION_DEFINITIONS.populate).canonical).toBe('http://hl7.org/fhir/uv/sdc/OperationDefinition/Questionnaire-populate');
  });
});
