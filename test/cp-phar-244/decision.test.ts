/**
 * CP.PHAR.244 decisions as a whole: approval periods, the questionnaire filling what the chart
 * cannot show, error isolation, policy selection (payer, other uses), and the COVID-19 EUA rules
 * (I.D / II.B: inpatient only; outpatient is not authorized).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Bundle, Condition, MedicationRequest, Observation, Patient } from 'fhir/r4';
import { loadConfig } from '../../src/config';
import { createPolicyEngine } from '../../src/engine';
import type { PolicyDefinition } from '../../src/catalog/types';
import { answer, criterion, evaluate, KINERET_APPROVAL_ON_FILE, load, patch, remove, requestFor, statuses } from './helpers';

const QR = (linkId: string) => `QuestionnaireResponse/qr-cp-phar-244#${linkId}`;

describe('approval periods', () => {
  test('RA initial approval: 6 months from the evaluation date', async () => {
    const decision = await evaluate(load('ra-approvable'));
    expect(decision.outcome).toBe('approve');
    expect(decision.phase).toBe('initial');
    expect(decision.indication?.id).toBe('RA');
    expect(decision.approvalPeriod).toEqual({ start: '2026-11-20', end: '2027-05-19' });
    expect(decision.reasons).toEqual([expect.objectContaining({ code: 'criteria-met', citation: 'CP.PHAR.244 I.A' })]);
  });

  test('NOMID and DIRA initial approvals: 6 months', async () => {
    for (const base of ['nomid-child', 'dira'] as const) {
      const decision = await evaluate(load(base));
      expect([base, decision.outcome, decision.approvalPeriod]).toEqual([base, 'approve', { start: '2026-11-20', end: '2027-05-19' }]);
    }
  });

  test('RA continued therapy: 12 months, found from the approval on file and the chart (no phase hint)', async () => {
    const decision = await evaluate(load('ra-continuation'), { priorAuthorizations: [KINERET_APPROVAL_ON_FILE] });
    expect(decision.phase).toBe('continuation');
    expect(decision.outcome).toBe('approve');
    expect(decision.approvalPeriod).toEqual({ start: '2026-11-20', end: '2027-11-19' });
    expect(decision.reasons).toEqual([expect.objectContaining({ code: 'criteria-met', citation: 'CP.PHAR.244 II.A' })]);
  });

  test('a phase hint of continuation is honoured for a member the chart shows on Kineret', async () => {
    const decision = await evaluate(load('ra-continuation'), { phaseHint: 'continuation', priorAuthorizations: [KINERET_APPROVAL_ON_FILE] });
    expect(decision.phase).toBe('continuation');
    expect(decision.criteria.map((c) => c.id)).toEqual(['II.A.1', 'II.A.2.a', 'II.A.3', 'II.A.4.a']);
  });
});

describe('the questionnaire fills what the chart cannot show', () => {
  test('ra-chart-only-partial pends on exactly the criteria the chart cannot show', async () => {
    const decision = await evaluate(load('ra-chart-only-partial'));
    expect(decision.outcome).toBe('pend');
    expect(decision.reviewRoute).toBe('physician-reviewer');
    expect(decision.approvalPeriod).toBeUndefined();
    expect(decision.reasons.map((r) => [r.code, r.citation])).toEqual([
      ['criteria-unknown', 'CP.PHAR.244 I.A.5.a'],
      ['criteria-unknown', 'CP.PHAR.244 I.A.5.b'],
      ['criteria-unknown', 'CP.PHAR.244 I.A.5.c'],
      ['criteria-unknown', 'CP.PHAR.244 I.A.6'],
    ]);
  });

  test('answers for those criteria turn the pend into an approval, citing the answers as evidence', async () => {
    const bundle = answer(load('ra-chart-only-partial'), {
      'adalimumab-failed': true,
      'tocilizumab-failed': true,
      'tofacitinib-failed': true,
      'baseline-cdai': 27.5,
    });
    const decision = await evaluate(bundle);
    expect(decision.outcome).toBe('approve');
    expect(decision.approvalPeriod).toEqual({ start: '2026-11-20', end: '2027-05-19' });
    expect(criterion(decision, 'I.A.5.a').evidence).toEqual([QR('adalimumab-failed')]);
    expect(criterion(decision, 'I.A.5.b').evidence).toEqual([QR('tocilizumab-failed')]);
    expect(criterion(decision, 'I.A.5.c').evidence).toEqual([QR('tofacitinib-failed')]);
    expect(criterion(decision, 'I.A.6').evidence).toEqual([QR('baseline-cdai')]);
  });

  test('answers to a draft (in-progress) questionnaire are not read', async () => {
    const bundle = answer(load('ra-chart-only-partial'), { 'adalimumab-failed': true, 'tocilizumab-failed': true, 'tofacitinib-failed': true, 'baseline-cdai': 27.5 });
    patch(bundle, 'QuestionnaireResponse/qr-cp-phar-244', (qr) => { (qr as { status: string }).status = 'in-progress'; });
    const decision = await evaluate(bundle);
    expect(decision.outcome).toBe('pend');
    expect(criterion(decision, 'I.A.6').status).toBe('unknown');
  });

  test('a "no" answer does not override what the chart shows as met', async () => {
    const decision = await evaluate(answer(load('ra-approvable'), { 'mtx-trial-failed': false }));
    expect(criterion(decision, 'I.A.4').status).toBe('met');
    expect(decision.outcome).toBe('approve');
  });
});

describe('errors and missing data', () => {
  test('a weight in a unit that is not UCUM makes only the dose criterion unknown, with a warning', async () => {
    const bundle = patch<Observation>(load('nomid-child'), 'Observation/obs-weight-2026-11-05', (o) => { o.valueQuantity = { value: 51.6, unit: 'lbs' }; });
    const decision = await evaluate(bundle);
    expect(statuses(decision)).toEqual({ 'I.B.1': 'met', 'I.B.2': 'met', 'I.B.3': 'met', 'I.B.4': 'unknown' });
    expect(criterion(decision, 'I.B.4').note).toBe('the rule could not be evaluated from the data');
    expect(decision.warnings).toHaveLength(1);
    expect(decision.warnings[0]).toMatchObject({ severity: 'warning', code: 'exception' });
    expect(decision.warnings[0]?.diagnostics).toContain('CP.PHAR.244 I.B.4');
    expect(decision.warnings[0]?.diagnostics).toContain('"Weight Based Dose Within Limit"');
    expect(decision.warnings[0]?.diagnostics).toContain("Invalid UCUM unit: 'lbs'");
    expect(decision.outcome).toBe('pend');
    expect(decision.reasons).toEqual([expect.objectContaining({ code: 'criteria-unknown', citation: 'CP.PHAR.244 I.B.4' })]);
  });

  describe('with a catalog copy whose criteria point at definitions that fail', () => {
    let dir: string;
    beforeAll(() => {
      const paths = loadConfig().paths;
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cp-phar-244-catalog-'));
      const policy = JSON.parse(fs.readFileSync(path.join(paths.catalog, 'cp-phar-244.json'), 'utf8')) as PolicyDefinition;
      const ra = policy.indications.find((i) => i.id === 'RA')!;
      // I.A.3 at a definition that returns a number, I.A.8 at one that throws on this chart's weight.
      ra.initial.criteria.find((c) => c.id === 'I.A.3')!.expression = 'Age In Years';
      ra.initial.criteria.find((c) => c.id === 'I.A.8')!.expression = 'Weight Based Dose Within Limit';
      fs.writeFileSync(path.join(dir, 'cp-phar-244.json'), JSON.stringify(policy));
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    test('each failing definition makes only its criterion unknown, with a warning naming it', async () => {
      const engine = createPolicyEngine({ ...loadConfig().paths, catalog: dir });
      const bundle = patch<Observation>(load('ra-approvable'), 'Observation/obs-weight-2026-10-28', (o) => { o.valueQuantity = { value: 150.8, unit: 'lbs' }; });
      const decision = await engine.evaluate(requestFor(bundle));
      const expected = Object.fromEntries(['I.A.1', 'I.A.2', 'I.A.3', 'I.A.4', 'I.A.5.a', 'I.A.5.b', 'I.A.5.c', 'I.A.6', 'I.A.7', 'I.A.8'].map((id) => [id, 'met']));
      expect(statuses(decision)).toEqual({ ...expected, 'I.A.3': 'unknown', 'I.A.8': 'unknown' });
      expect(decision.warnings.map((w) => [w.code, w.diagnostics?.split(':')[0]])).toEqual([
        ['processing', 'CP.PHAR.244 I.A.3'],
        ['exception', 'CP.PHAR.244 I.A.8'],
      ]);
      expect(decision.outcome).toBe('pend');
      expect(decision.reasons.map((r) => r.citation)).toEqual(['CP.PHAR.244 I.A.3', 'CP.PHAR.244 I.A.8']);
    });
  });

  test('a Patient without birthDate leaves I.A.3 unknown and pends citing it', async () => {
    const decision = await evaluate(patch<Patient>(load('ra-approvable'), 'Patient/pt-ra-approvable', (p) => { delete p.birthDate; }));
    expect(criterion(decision, 'I.A.3').status).toBe('unknown');
    expect(decision.outcome).toBe('pend');
    expect(decision.reasons).toEqual([expect.objectContaining({ code: 'criteria-unknown', citation: 'CP.PHAR.244 I.A.3' })]);
  });
});

describe('policy and indication selection', () => {
  test('another payer (NAIC 99999) has no policy: pend with reason no-policy, nothing evaluated', async () => {
    const decision = await evaluate(load('ra-approvable'), { payerValue: '99999' });
    expect(decision.policy).toBeNull();
    expect(decision.outcome).toBe('pend');
    expect(decision.criteria).toEqual([]);
    expect(decision.approvalPeriod).toBeUndefined();
    expect(decision.reasons).toEqual([expect.objectContaining({ code: 'no-policy' })]);
  });

  test('a Medicare coverage of the same payer has no Kineret policy: pend with reason no-policy', async () => {
    const bundle = patch(load('ra-approvable'), 'Coverage/cov-pt-ra-approvable', (c) => {
      (c as { type: unknown }).type = { coding: [{ system: 'urn:oid:2.16.840.1.113883.3.221.5', code: '1', display: 'MEDICARE' }] };
    });
    const decision = await evaluate(bundle);
    expect(decision.outcome).toBe('pend');
    expect(decision.reasons).toEqual([expect.objectContaining({ code: 'no-policy' })]);
  });

  /** Replaces RA with adult-onset Still's disease, a use the policy does not list. */
  function stillsDisease(bundle: Bundle): Bundle {
    const stills = [
      { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'M06.1', display: "Adult-onset Still's disease" },
      { system: 'http://snomed.info/sct', code: '239920006', display: "Adult-onset Still's disease" },
    ];
    patch<Condition>(bundle, 'Condition/cond-ra', (c) => { c.code = { coding: stills, text: "Adult-onset Still's disease" }; });
    return patch<MedicationRequest>(bundle, 'MedicationRequest/medreq-kineret', (m) => { m.reasonCode = [{ coding: stills }]; });
  }

  test("another use (adult-onset Still's disease) is referred for review under I.E", async () => {
    const decision = await evaluate(stillsDisease(load('ra-approvable')));
    expect(decision.indication?.id).toBe('OTHER');
    expect(decision.outcome).toBe('pend');
    expect(decision.criteria).toEqual([]);
    expect(decision.reviewRoute).toBe('physician-reviewer');
    expect(decision.reasons).toEqual([expect.objectContaining({ code: 'review-required', citation: 'CP.PHAR.244 I.E' })]);
  });

  test('continued therapy for another use is referred for review under II.C', async () => {
    const decision = await evaluate(stillsDisease(load('ra-continuation')), { priorAuthorizations: [KINERET_APPROVAL_ON_FILE] });
    expect(decision.phase).toBe('continuation');
    expect(decision.outcome).toBe('pend');
    expect(decision.reasons).toEqual([expect.objectContaining({ code: 'review-required', citation: 'CP.PHAR.244 II.C' })]);
  });

  test('the RA Condition resolved but the request naming RA still selects RA (and I.A.1 is unmet)', async () => {
    const bundle = patch<Condition>(load('ra-approvable'), 'Condition/cond-ra', (c) => { c.clinicalStatus!.coding![0]!.code = 'resolved'; });
    const decision = await evaluate(bundle);
    expect(decision.indication?.id).toBe('RA');
    expect(criterion(decision, 'I.A.1').status).toBe('unmet');
  });
});

describe('COVID-19 (FDA EUA): I.D initiation and II.B continuation', () => {
  const cases = [
    { phase: 'initial', id: 'I.D.1', pos: '21', status: 'met', outcome: 'pend', reason: ['review-required', 'CP.PHAR.244 I.D'] },
    { phase: 'initial', id: 'I.D.1', pos: '11', status: 'unmet', outcome: 'deny', reason: ['not-authorized', 'CP.PHAR.244 I.D.1'] },
    { phase: 'initial', id: 'I.D.1', pos: '22', status: 'unmet', outcome: 'deny', reason: ['not-authorized', 'CP.PHAR.244 I.D.1'] },
    { phase: 'initial', id: 'I.D.1', pos: undefined, status: 'unknown', outcome: 'pend', reason: ['criteria-unknown', 'CP.PHAR.244 I.D.1'] },
    { phase: 'continuation', id: 'II.B.1', pos: '21', status: 'met', outcome: 'pend', reason: ['review-required', 'CP.PHAR.244 II.B'] },
    { phase: 'continuation', id: 'II.B.1', pos: '11', status: 'unmet', outcome: 'deny', reason: ['not-authorized', 'CP.PHAR.244 II.B.1'] },
    { phase: 'continuation', id: 'II.B.1', pos: undefined, status: 'unknown', outcome: 'pend', reason: ['criteria-unknown', 'CP.PHAR.244 II.B.1'] },
  ] as const;

  test.each(cases.map((c) => [`${c.id} ${c.status}: place of service ${c.pos ?? 'not given'} -> ${c.outcome}`, c] as const))('%s', async (_name, c) => {
    const decision = await evaluate(load('covid-outpatient'), {
      ...(c.pos ? { placeOfService: c.pos } : {}),
      ...(c.phase === 'continuation' ? { phaseHint: 'continuation' as const } : {}),
    });
    expect(decision.indication?.id).toBe('COVID19');
    expect(decision.phase).toBe(c.phase);
    expect(statuses(decision)).toEqual({ [c.id]: c.status });
    expect(decision.outcome).toBe(c.outcome);
    expect(decision.approvalPeriod).toBeUndefined();
    expect(decision.reasons.map((r) => [r.code, r.citation])).toEqual([c.reason]);
    // The EUA use is never approved automatically: a physician reviews it.
    if (c.outcome === 'pend') expect(decision.reviewRoute).toBe('physician-reviewer');
  });
});

test('removing the order reason makes the chart select the indication', async () => {
  const bundle = patch<MedicationRequest>(load('nomid-child'), 'MedicationRequest/medreq-kineret', (m) => { delete m.reasonCode; });
  const decision = await evaluate(bundle);
  expect(decision.indication?.id).toBe('CAPS');
  expect(decision.outcome).toBe('approve');
});

test('no diagnosis anywhere goes to the other-uses section, never approved', async () => {
  const bundle = remove(
    patch<MedicationRequest>(load('ra-approvable'), 'MedicationRequest/medreq-kineret', (m) => { delete m.reasonCode; }),
    'Condition/cond-ra',
    'Condition/cond-htn',
  );
  const decision = await evaluate(bundle);
  expect(decision.indication?.id).toBe('OTHER');
  expect(decision.outcome).toBe('pend');
});
