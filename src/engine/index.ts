/**
 * The policy engine's entry point: `createPolicyEngine` reads what the engine is built from
 * (./sources.ts) and builds it (./policy-engine.ts).
 */
import type { Config } from '../config';
import { policyEngine, type EngineOptions, type PolicyEngine } from './policy-engine';
import { readEngineSources } from './sources';

export * from './policy-engine';

export function createPolicyEngine(paths: Config['paths'], options: EngineOptions = {}): PolicyEngine {
  return policyEngine(readEngineSources(paths), options);
}
