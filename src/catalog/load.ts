/**
 * Reads the policy catalog (`catalog/policies/*.json`) and validates each file against the zod
 * schema of ./types.ts and the value sets. Only the main thread runs this: the worker threads are
 * given the validated policies (src/engine/threads.ts), and zod stays out of them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { policySchema, type PolicyDefinition } from './types';
import type { ValueSetIndex } from './terminology';

/** Reads and validates every policy file; throws with the file and element on the first problem. */
export function loadPolicies(folder: string, valueSets: ValueSetIndex): PolicyDefinition[] {
  const files = fs.existsSync(folder) ? fs.readdirSync(folder).filter((f) => f.endsWith('.json')).sort() : [];
  const policies = files.map((file) => {
    const raw: unknown = JSON.parse(fs.readFileSync(path.join(folder, file), 'utf8'));
    const parsed = policySchema.safeParse(raw);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      throw new Error(`catalog/policies/${file}: ${first?.path.join('.') ?? ''}: ${first?.message ?? 'invalid'}`);
    }
    const policy: PolicyDefinition = parsed.data;
    const missing = referencedValueSets(policy).filter((url) => !valueSets.has(url));
    if (missing.length > 0) throw new Error(`catalog/policies/${file}: unknown value set(s) ${missing.join(', ')}`);
    if (policy.otherIndication && !policy.indications.some((i) => i.id === policy.otherIndication)) {
      throw new Error(`catalog/policies/${file}: otherIndication ${policy.otherIndication} is not an indication`);
    }
    return policy;
  });
  const ids = new Set<string>();
  for (const policy of policies) {
    if (ids.has(policy.id)) throw new Error(`catalog: policy id ${policy.id} is used twice`);
    ids.add(policy.id);
  }
  return policies;
}

function referencedValueSets(policy: PolicyDefinition): string[] {
  const urls = [policy.drug.valueSet];
  for (const indication of policy.indications) {
    if (indication.diagnosisValueSet) urls.push(indication.diagnosisValueSet);
    for (const c of [...indication.initial.criteria, ...(indication.continuation?.criteria ?? [])]) {
      for (const alt of c.alternatives ?? []) urls.push(alt.valueSet);
    }
  }
  return urls;
}

