/**
 * Molina Kineret guideline B (CAPS), C (JIA, systemic and polyarticular) and D (DIRA), initial
 * approval, with their age and weight-based quantity limits, and other uses: every criterion met,
 * unmet and unknown. The "for all indications" gates are met in every base (tested in ra-initial).
 * Bases: caps-muckle-wells.json (9 years, 28 kg, 56 mg daily, NLRP3 variant, geneticist),
 * sjia-child.json (7 years, 22 kg, 40 mg daily, naproxen then prednisolone failed), dira-infant.json
 * (2 years, 12.6 kg, 25 mg daily, IL1RN variant).
 */
import type { Bundle, Condition, MedicationRequest, MedicationStatement, Observation, Patient } from 'fhir/r4';
import { add, intolerance, patch, remove, setAge, setDose, statement, type Row } from '../support/policy-kit';
import { FCAS, ICD10, kit, MTX, QR, SNOMED, SYSTEMIC_JIA } from './kit';

const { answer, runTable, evaluate, load } = kit;
const GATES = { 'ALL.1': 'met', 'ALL.2': 'met', 'ALL.3': 'not-applicable' } as const;

const setWeight = (id: string, kg: number) => (b: Bundle) => patch<Observation>(b, `Observation/${id}`, (o) => { o.valueQuantity!.value = kg; });
function recode(b: Bundle, conditionId: string, codings: { system: string; code: string; display: string }[]): void {
  patch<Condition>(b, `Condition/${conditionId}`, (c) => { c.code = { coding: codings, text: codings[0]!.display }; });
  patch<MedicationRequest>(b, 'MedicationRequest/medreq-kineret', (m) => { m.reasonCode = [{ coding: codings }]; });
}

// ------------------------------------------------------------------ B. CAPS
const CAPS_DOSE = ['MedicationRequest/medreq-kineret', 'Observation/obs-weight-2026-11-03'];
const CAPS_B2 = ['Observation/obs-nlrp3-variant', 'Observation/obs-crp-2026-11-03', QR('inflammatory-markers-raised'), QR('caps-manifestation-count')];
const capsRows: Row[] = [
  { id: 'B.1', status: 'met', fact: 'confirmed Muckle-Wells syndrome (SNOMED CT 402417009, M04.2)', evidence: ['Condition/cond-caps'] },
  {
    id: 'B.1', status: 'unmet', fact: 'the CAPS Condition is refuted',
    edit: (b) => patch<Condition>(b, 'Condition/cond-caps', (c) => { c.verificationStatus!.coding![0]!.code = 'refuted'; }),
  },
  { id: 'B.1', status: 'unknown', fact: 'no CAPS Condition on record (the order names M04.2)', edit: (b) => remove(b, 'Condition/cond-caps') },
  {
    id: 'B.1', status: 'met', fact: 'no Condition, the questionnaire names familial cold autoinflammatory syndrome', evidence: [QR('caps-phenotype')],
    edit: (b) => answer(remove(b, 'Condition/cond-caps'), { 'caps-phenotype': FCAS }),
  },
  { id: 'B.2', status: 'met', fact: '(b) a pathogenic NLRP3 variant; also (a) raised markers and 3 manifestations', evidence: CAPS_B2 },
  {
    id: 'B.2', status: 'met', fact: '(a) no genetic result: raised CRP and serum amyloid A and 3 of the 6 manifestations',
    evidence: CAPS_B2.slice(1), edit: (b) => remove(b, 'Observation/obs-nlrp3-variant'),
  },
  {
    id: 'B.2', status: 'unmet', fact: 'no NLRP3 mutation, and only 1 of the 6 manifestations',
    evidence: [...CAPS_B2.slice(1), QR('nlrp3-mutation')],
    edit: (b) => answer(remove(b, 'Observation/obs-nlrp3-variant'), { 'nlrp3-mutation': false, 'caps-manifestation-count': 1 }),
  },
  {
    id: 'B.2', status: 'unmet', fact: 'no NLRP3 mutation, and the latest CRP is normal (flagged N)',
    evidence: ['Observation/obs-crp-2026-11-03', QR('caps-manifestation-count'), QR('nlrp3-mutation')],
    edit: (b) => {
      remove(b, 'Observation/obs-nlrp3-variant');
      patch<Observation>(b, 'Observation/obs-crp-2026-11-03', (o) => { o.valueQuantity!.value = 0.4; o.interpretation![0]!.coding![0]!.code = 'N'; });
      answer(b, { 'nlrp3-mutation': false, 'inflammatory-markers-raised': null });
    },
  },
  {
    id: 'B.2', status: 'unknown', fact: 'no genetic result, and the manifestations are not counted',
    evidence: ['Observation/obs-crp-2026-11-03', QR('inflammatory-markers-raised')],
    edit: (b) => answer(remove(b, 'Observation/obs-nlrp3-variant'), { 'caps-manifestation-count': null }),
  },
  { id: 'B.3', status: 'met', fact: 'the prescriber attests functional impairment', evidence: [QR('functional-impairment')] },
  { id: 'B.3', status: 'unmet', fact: 'the prescriber says there is none', evidence: [QR('functional-impairment')], edit: (b) => answer(b, { 'functional-impairment': false }) },
  { id: 'B.3', status: 'unknown', fact: 'no attestation', edit: (b) => answer(b, { 'functional-impairment': null }) },
  { id: 'B.4', status: 'met', fact: 'a Goal for the CAPS Condition and a documented baseline evaluation', evidence: ['Goal/goal-caps-flares', QR('baseline-evaluation'), QR('treatment-goals')] },
  {
    id: 'B.4', status: 'unmet', fact: 'the prescriber says no baseline evaluation is documented', evidence: ['Goal/goal-caps-flares', QR('baseline-evaluation'), QR('treatment-goals')],
    edit: (b) => answer(b, { 'baseline-evaluation': false }),
  },
  {
    id: 'B.4', status: 'unknown', fact: 'no baseline evaluation documented (nothing on record shows one for CAPS)', evidence: ['Goal/goal-caps-flares', QR('treatment-goals')],
    edit: (b) => answer(b, { 'baseline-evaluation': null }),
  },
  { id: 'QUANTITY', status: 'met', fact: '56 mg daily for 28 kg (limit 8 mg/kg = 224 mg)', evidence: CAPS_DOSE },
  { id: 'QUANTITY', status: 'unmet', fact: '230 mg daily for 28 kg', evidence: CAPS_DOSE, edit: (b) => setDose(b, { mg: 115, perDay: 2 }) },
  { id: 'QUANTITY', status: 'unknown', fact: 'no body weight on record', evidence: ['MedicationRequest/medreq-kineret'], edit: (b) => remove(b, 'Observation/obs-weight-2026-11-03') },
];

describe('Molina Kineret guideline B: CAPS (FCAS, MWS, NOMID), initial', () => {
  runTable({
    base: 'caps-muckle-wells',
    indication: 'CAPS',
    baseline: { ...GATES, 'B.1': 'met', 'B.2': 'met', 'B.3': 'met', 'B.4': 'met', PRESCRIBER: 'met', QUANTITY: 'met' },
    rows: capsRows,
  });
});

// ------------------------------------------------------------------ C. JIA
const JIA_DOSE = ['MedicationRequest/medreq-kineret', 'Observation/obs-weight-2026-11-06'];
const SJIA_TRIALS = ['MedicationStatement/medstmt-naproxen', 'MedicationStatement/medstmt-prednisolone'];
const UNSPECIFIED_JIA = [{ system: ICD10, code: 'M08.00', display: 'Unspecified juvenile rheumatoid arthritis of unspecified site' }];
const sjiaRows: Row[] = [
  { id: 'C.1', status: 'met', fact: 'confirmed systemic JIA (M08.20, SNOMED CT 201796004) at 7 years old', evidence: ['Condition/cond-sjia', 'Patient/pt-molina-sjia'] },
  {
    id: 'C.1', status: 'unmet', fact: 'an 18-year-old is not a pediatric member', evidence: ['Condition/cond-sjia', 'Patient/pt-molina-sjia'],
    edit: (b) => setAge(b, 18),
  },
  {
    id: 'C.1', status: 'unmet', fact: 'the JIA Condition is refuted and no subtype is given', evidence: ['Patient/pt-molina-sjia'],
    also: { 'C.3': 'unknown', QUANTITY: 'unknown' },
    edit: (b) => patch<Condition>(b, 'Condition/cond-sjia', (c) => { c.verificationStatus!.coding![0]!.code = 'refuted'; }),
  },
  {
    id: 'C.1', status: 'unknown', fact: 'JIA coded without a subtype (M08.00)', evidence: ['Condition/cond-sjia', 'Patient/pt-molina-sjia'],
    also: { 'C.3': 'unknown', QUANTITY: 'unknown' }, edit: (b) => recode(b, 'cond-sjia', UNSPECIFIED_JIA),
  },
  {
    id: 'C.1', status: 'met', fact: 'JIA coded without a subtype, the questionnaire says systemic', evidence: ['Condition/cond-sjia', 'Patient/pt-molina-sjia', QR('jia-subtype')],
    edit: (b) => answer((recode(b, 'cond-sjia', UNSPECIFIED_JIA), b), { 'jia-subtype': SYSTEMIC_JIA }),
  },
  { id: 'C.2', status: 'met', fact: 'a Goal for the JIA Condition and a documented baseline evaluation', evidence: ['Goal/goal-sjia-inactive', QR('baseline-evaluation')] },
  {
    id: 'C.2', status: 'unmet', fact: 'no Goal, the prescriber says no treatment goals are documented', evidence: [QR('baseline-evaluation'), QR('treatment-goals')],
    edit: (b) => answer(remove(b, 'Goal/goal-sjia-inactive'), { 'treatment-goals': false }),
  },
  { id: 'C.2', status: 'unknown', fact: 'no Goal and no answer about goals', evidence: [QR('baseline-evaluation')], edit: (b) => remove(b, 'Goal/goal-sjia-inactive') },
  { id: 'C.3', status: 'met', fact: '(a) naproxen 17 weeks, then prednisolone 16 weeks, both stopped', evidence: SJIA_TRIALS },
  {
    id: 'C.3', status: 'unmet', fact: '(a) naproxen 6 weeks and prednisolone 8 weeks, both stopped, tolerated', evidence: SJIA_TRIALS,
    edit: (b) => {
      patch<MedicationStatement>(b, 'MedicationStatement/medstmt-naproxen', (s) => { s.effectivePeriod = { start: '2025-12-08', end: '2026-01-19' }; });
      patch<MedicationStatement>(b, 'MedicationStatement/medstmt-prednisolone', (s) => { s.effectivePeriod = { start: '2026-04-06', end: '2026-06-01' }; });
    },
  },
  { id: 'C.3', status: 'unknown', fact: '(a) no NSAID or glucocorticoid on record', edit: (b) => remove(b, ...SJIA_TRIALS), also: { 'ALL.2': 'unknown' } },
  {
    id: 'C.3', status: 'met', fact: '(a) no trial on record, naproxen caused a GI bleed (AllergyIntolerance)', evidence: ['AllergyIntolerance/allergy-naproxen'],
    also: { 'ALL.2': 'unknown' },
    edit: (b) => {
      remove(b, ...SJIA_TRIALS);
      add(b, intolerance(b, 'allergy-naproxen', ['7258', 'naproxen'], 'Upper gastrointestinal bleeding'));
    },
  },
  {
    id: 'C.3', status: 'met', fact: '(a) no trial on record, the questionnaire attests a failed 12-week trial', evidence: [QR('sjia-trial-failed')],
    also: { 'ALL.2': 'unknown' }, edit: (b) => answer(remove(b, ...SJIA_TRIALS), { 'sjia-trial-failed': true }),
  },
  { id: 'AGE', status: 'met', fact: '7 years old', evidence: ['Patient/pt-molina-sjia'] },
  { id: 'AGE', status: 'unmet', fact: '1 year old (JIA needs 2 or older)', evidence: ['Patient/pt-molina-sjia'], edit: (b) => setAge(b, 1, 100) },
  {
    id: 'AGE', status: 'unknown', fact: 'no birthDate', evidence: ['Patient/pt-molina-sjia'], also: { 'C.1': 'unknown' },
    edit: (b) => patch<Patient>(b, 'Patient/pt-molina-sjia', (p) => { delete p.birthDate; }),
  },
  { id: 'QUANTITY', status: 'met', fact: 'systemic JIA, 40 mg daily for 22 kg (initial limit 2 mg/kg = 44 mg)', evidence: JIA_DOSE },
  { id: 'QUANTITY', status: 'unmet', fact: 'systemic JIA, 50 mg daily for 22 kg', evidence: JIA_DOSE, edit: (b) => setDose(b, { mg: 50 }) },
  {
    id: 'QUANTITY', status: 'unmet', fact: 'systemic JIA, 110 mg daily for 60 kg: under 2 mg/kg but over the 100 mg initial maximum', evidence: JIA_DOSE,
    edit: (b) => { setWeight('obs-weight-2026-11-06', 60)(b); setDose(b, { mg: 110 }); },
  },
  { id: 'QUANTITY', status: 'unknown', fact: 'no body weight on record', evidence: ['MedicationRequest/medreq-kineret'], edit: (b) => remove(b, 'Observation/obs-weight-2026-11-06') },
];

describe('Molina Kineret guideline C: systemic JIA, initial', () => {
  runTable({
    base: 'sjia-child',
    indication: 'JIA',
    baseline: { ...GATES, 'C.1': 'met', 'C.2': 'met', 'C.3': 'met', PRESCRIBER: 'met', AGE: 'met', QUANTITY: 'met' },
    rows: sjiaRows,
  });
});

/** The same child with polyarticular JIA: methotrexate 16 weeks, stopped; 20 mg daily. */
const PJIA = [
  { system: ICD10, code: 'M08.3', display: 'Juvenile rheumatoid polyarthritis (seronegative)' },
  { system: SNOMED, code: '16044751000119106', display: 'Polyarticular juvenile idiopathic arthritis' },
];
function polyarticular(b: Bundle): void {
  recode(b, 'cond-sjia', PJIA);
  add(b, statement(b, 'medstmt-mtx', MTX, '2026-03-02', '2026-06-22'));
  setDose(b, { mg: 20 });
}
const pjiaRows: Row[] = [
  { id: 'C.3', status: 'met', fact: '(b) methotrexate 16 weeks, stopped', evidence: ['MedicationStatement/medstmt-mtx'] },
  {
    id: 'C.3', status: 'unmet', fact: '(b) methotrexate 8 weeks, stopped, tolerated', evidence: ['MedicationStatement/medstmt-mtx'],
    edit: (b) => patch<MedicationStatement>(b, 'MedicationStatement/medstmt-mtx', (s) => { s.effectivePeriod = { start: '2026-03-02', end: '2026-04-27' }; }),
  },
  { id: 'C.3', status: 'unknown', fact: '(b) no methotrexate, hydroxychloroquine, sulfasalazine or leflunomide on record', edit: (b) => remove(b, 'MedicationStatement/medstmt-mtx') },
  {
    id: 'C.3', status: 'met', fact: '(b) methotrexate is contraindicated (AllergyIntolerance)', evidence: ['AllergyIntolerance/allergy-mtx'],
    edit: (b) => { remove(b, 'MedicationStatement/medstmt-mtx'); add(b, intolerance(b, 'allergy-mtx', ['6851', 'methotrexate'], 'Oral ulcers and cytopenia')); },
  },
  { id: 'QUANTITY', status: 'met', fact: 'polyarticular JIA, 20 mg daily for 22 kg (1 mg/kg = 22 mg)', evidence: JIA_DOSE },
  { id: 'QUANTITY', status: 'unmet', fact: 'polyarticular JIA, 25 mg daily for 22 kg', evidence: JIA_DOSE, edit: (b) => setDose(b, { mg: 25 }) },
  {
    id: 'QUANTITY', status: 'unmet', fact: 'polyarticular JIA, 105 mg daily for 110 kg: over the 100 mg maximum', evidence: JIA_DOSE,
    edit: (b) => { setWeight('obs-weight-2026-11-06', 110)(b); setDose(b, { mg: 105 }); },
  },
  {
    id: 'QUANTITY', status: 'met', fact: 'polyarticular JIA, 100 mg daily for 110 kg', evidence: JIA_DOSE,
    edit: (b) => { setWeight('obs-weight-2026-11-06', 110)(b); setDose(b, { mg: 100 }); },
  },
  {
    id: 'QUANTITY', status: 'unknown', fact: 'polyarticular JIA, weight recorded without a unit', evidence: JIA_DOSE,
    edit: (b) => patch<Observation>(b, 'Observation/obs-weight-2026-11-06', (o) => { o.valueQuantity = { value: 22 }; }),
  },
];

describe('Molina Kineret guideline C: polyarticular JIA, initial', () => {
  runTable({
    base: 'sjia-child',
    prepare: polyarticular,
    indication: 'JIA',
    baseline: { ...GATES, 'C.1': 'met', 'C.2': 'met', 'C.3': 'met', PRESCRIBER: 'met', AGE: 'met', QUANTITY: 'met' },
    rows: pjiaRows,
  });
});

// ------------------------------------------------------------------ D. DIRA
const DIRA_DOSE = ['MedicationRequest/medreq-kineret', 'Observation/obs-weight-2026-11-05'];
const diraRows: Row[] = [
  { id: 'D.1', status: 'met', fact: 'DIRA (M04.8) with a pathogenic IL1RN variant', evidence: ['Condition/cond-dira', 'Observation/obs-il1rn-variant'] },
  {
    id: 'D.1', status: 'unmet', fact: 'the DIRA Condition is refuted', evidence: ['Observation/obs-il1rn-variant'],
    edit: (b) => patch<Condition>(b, 'Condition/cond-dira', (c) => { c.verificationStatus!.coding![0]!.code = 'refuted'; }),
  },
  {
    id: 'D.1', status: 'unknown', fact: 'M04.8 alone (other autoinflammatory syndromes) does not name DIRA', evidence: ['Condition/cond-dira'],
    also: { 'D.2': 'unknown' }, edit: (b) => remove(b, 'Observation/obs-il1rn-variant'),
  },
  {
    id: 'D.1', status: 'met', fact: 'M04.8 alone, the questionnaire documents DIRA', evidence: ['Condition/cond-dira', QR('dira-diagnosis')],
    also: { 'D.2': 'unknown' }, edit: (b) => answer(remove(b, 'Observation/obs-il1rn-variant'), { 'dira-diagnosis': true }),
  },
  { id: 'D.2', status: 'met', fact: 'a pathogenic IL1RN variant on record', evidence: ['Observation/obs-il1rn-variant'] },
  {
    id: 'D.2', status: 'met', fact: 'no genetic result, the questionnaire reports a listed clinical sign', evidence: [QR('dira-clinical-sign')],
    also: { 'D.1': 'unknown' }, edit: (b) => answer(remove(b, 'Observation/obs-il1rn-variant'), { 'dira-clinical-sign': true }),
  },
  {
    id: 'D.2', status: 'unmet', fact: 'no IL1RN mutation and none of the listed signs', evidence: [QR('il1rn-mutation'), QR('dira-clinical-sign')],
    also: { 'D.1': 'unknown' }, edit: (b) => answer(remove(b, 'Observation/obs-il1rn-variant'), { 'il1rn-mutation': false, 'dira-clinical-sign': false }),
  },
  { id: 'D.2', status: 'unknown', fact: 'no genetic result and no answer', also: { 'D.1': 'unknown' }, edit: (b) => remove(b, 'Observation/obs-il1rn-variant'), evidence: [] },
  { id: 'D.3', status: 'met', fact: 'a Goal for the DIRA Condition and a documented baseline evaluation', evidence: ['Goal/goal-dira-remission', QR('baseline-evaluation')] },
  {
    id: 'D.3', status: 'unmet', fact: 'the prescriber says no baseline evaluation is documented', evidence: ['Goal/goal-dira-remission', QR('baseline-evaluation')],
    edit: (b) => answer(b, { 'baseline-evaluation': false }),
  },
  { id: 'D.3', status: 'unknown', fact: 'no baseline evaluation documented', evidence: ['Goal/goal-dira-remission'], edit: (b) => answer(b, { 'baseline-evaluation': null }) },
  { id: 'QUANTITY', status: 'met', fact: '25 mg daily for 12.6 kg (8 mg/kg = 100.8 mg)', evidence: DIRA_DOSE },
  { id: 'QUANTITY', status: 'unmet', fact: '110 mg daily for 12.6 kg', evidence: DIRA_DOSE, edit: (b) => setDose(b, { mg: 110 }) },
  { id: 'QUANTITY', status: 'unknown', fact: 'no body weight on record', evidence: ['MedicationRequest/medreq-kineret'], edit: (b) => remove(b, 'Observation/obs-weight-2026-11-05') },
];

describe('Molina Kineret guideline D: DIRA, initial', () => {
  runTable({
    base: 'dira-infant',
    indication: 'DIRA',
    baseline: { ...GATES, 'D.1': 'met', 'D.2': 'met', 'D.3': 'met', PRESCRIBER: 'met', QUANTITY: 'met' },
    rows: diraRows,
  });
});

test('every B, C, D, AGE (JIA) and QUANTITY criterion has a met, an unmet and an unknown row', () => {
  for (const [rows, ids] of [
    [capsRows, ['B.1', 'B.2', 'B.3', 'B.4', 'QUANTITY']],
    [[...sjiaRows, ...pjiaRows], ['C.1', 'C.2', 'C.3', 'AGE', 'QUANTITY']],
    [diraRows, ['D.1', 'D.2', 'D.3', 'QUANTITY']],
  ] as const) {
    for (const id of ids) {
      const have = new Set((rows as readonly Row[]).filter((r) => r.id === id).map((r) => r.status));
      expect([id, [...have].sort()]).toEqual([id, ['met', 'unknown', 'unmet']]);
    }
  }
});

describe('other uses', () => {
  test("adult-onset Still's disease is not a covered indication: off-label review, citing CONTRAINDICATIONS", async () => {
    const bundle = load('ra-mtx-inadequate');
    remove(bundle, 'Condition/cond-ra');
    const decision = await evaluate(bundle, { diagnoses: [{ system: ICD10, code: 'M06.1', display: "Adult-onset Still's disease" }] });
    expect(decision.indication?.id).toBe('OTHER');
    expect(decision.outcome).toBe('pend');
    expect(decision.reasons).toEqual([expect.objectContaining({ code: 'review-required', citation: 'Molina Kineret guideline CONTRAINDICATIONS' })]);
    expect(decision.reasons[0]?.text).toContain('off-label');
  });

  test('pauciarticular JIA (M08.4-) is not systemic or polyarticular JIA: off-label review', async () => {
    const bundle = load('sjia-child');
    recode(bundle, 'cond-sjia', [{ system: ICD10, code: 'M08.40', display: 'Pauciarticular juvenile rheumatoid arthritis, unspecified site' }]);
    const decision = await evaluate(bundle);
    expect(decision.indication?.id).toBe('OTHER');
    expect(decision.outcome).toBe('pend');
  });
});

