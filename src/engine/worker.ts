/**
 * An evaluation worker thread (piscina): builds the policy engine once (catalog, value sets,
 * ELM, FHIR model info) and decides the requests the main thread sends it as plain data.
 */
import { workerData } from 'node:worker_threads';
import type { Config } from '../config';
import { createPolicyEngine } from './index';
import { fhirWrapper } from './data-provider';
import type { Decision } from './decision';
import type { EvaluationRequest } from './request';

export interface WorkerData {
  paths: Config['paths'];
  timeoutMs: number;
  timeZone: string;
}

export interface EvaluationTask {
  /** A catalog policy to evaluate; absent: select it by payer and drug. */
  policyId?: string;
  request: EvaluationRequest;
}

const { paths, timeoutMs, timeZone } = workerData as WorkerData;
const engine = createPolicyEngine(paths, { timeoutMs, timeZone });
// Load what the first request would otherwise pay for: the model info and every policy library.
fhirWrapper();
for (const policy of engine.catalog.policies) engine.libraries.executable(policy.library.name);

export default async function evaluate(task: EvaluationTask): Promise<Decision> {
  if (!task.policyId) return engine.evaluate(task.request);
  const policy = engine.catalog.get(task.policyId);
  if (!policy) throw new Error(`policy ${task.policyId} is not in the worker's catalog`);
  return engine.evaluatePolicy(policy, task.request);
}
