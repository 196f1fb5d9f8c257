/**
 * The table runner of the CP.PHAR.244 criterion suites: each row is one criterion in one status,
 * produced by one edit of a base bundle. A row asserts the criterion's exact status and evidence,
 * that every other criterion kept its base status (unless the row names the knock-on effect in
 * `also`), and the outcome and reasons the decision rules give for that set of statuses.
 */
import type { Bundle } from 'fhir/r4';
import type { CriterionStatus } from '../../src/engine/decision';
import { criterion, evaluate, expectedOutcome, load, statuses, type Base, type RequestOptions } from './helpers';

export interface Row {
  id: string;
  status: CriterionStatus;
  /** The one fact in which the variant differs from its base. */
  fact: string;
  edit?: (bundle: Bundle) => void;
  options?: RequestOptions;
  /** Exact evidence references of the criterion (none when absent). */
  evidence?: string[];
  /** Other criteria whose status the same fact changes, by policy logic. */
  also?: Record<string, CriterionStatus>;
}

export interface Table {
  base: Base;
  /** Turns the fixture into this table's base (e.g. a continued-therapy member). */
  prepare?: (bundle: Bundle) => void;
  options?: RequestOptions;
  /** Status of every criterion in the base. */
  baseline: Record<string, CriterionStatus>;
  rows: Row[];
}

export function runTable(table: Table): void {
  test('the base decides as its baseline says', async () => {
    const bundle = load(table.base);
    table.prepare?.(bundle);
    const decision = await evaluate(bundle, table.options);
    expect(statuses(decision)).toEqual(table.baseline);
    expect(decision.warnings).toEqual([]);
  });

  test.each(table.rows.map((row) => [`${row.id} ${row.status}: ${row.fact}`, row] as const))('%s', async (_name, row) => {
    const bundle = load(table.base);
    table.prepare?.(bundle);
    row.edit?.(bundle);
    const decision = await evaluate(bundle, { ...table.options, ...row.options });

    const result = criterion(decision, row.id);
    expect(result.status).toBe(row.status);
    expect(result.citation).toBe(`CP.PHAR.244 ${row.id}`);
    expect(result.evidence).toEqual([...(row.evidence ?? [])].sort());

    const expected = { ...table.baseline, ...row.also, [row.id]: row.status };
    expect(statuses(decision)).toEqual(expected);
    expect(decision.warnings).toEqual([]);

    const outcome = expectedOutcome(decision, expected);
    expect(decision.outcome).toBe(outcome);
    if (outcome === 'approve') {
      expect(decision.approvalPeriod).toBeDefined();
      expect(decision.reasons.map((r) => r.code)).toEqual(['criteria-met']);
    } else {
      expect(decision.approvalPeriod).toBeUndefined();
    }
    if (row.status === 'unmet' || row.status === 'unknown') {
      const code = outcome === 'deny' ? 'not-authorized' : row.status === 'unmet' ? 'criteria-unmet' : 'criteria-unknown';
      expect(decision.reasons).toContainEqual(expect.objectContaining({ code, citation: `CP.PHAR.244 ${row.id}` }));
    }
    if (outcome === 'deny') {
      // Only criteria the policy itself says are not authorized can deny.
      for (const reason of decision.reasons) expect(reason.code).toBe('not-authorized');
      expect(decision.criteria.filter((c) => c.status === 'unmet' && c.onUnmet === 'deny').length).toBeGreaterThan(0);
    }
  });
}
