/**
 * The PAS 2.2.1 package from ../shared/ig, unpacked once per test file, when it is there (CI puts
 * ../shared beside the clone). `npm test` passes without it: the suites that compare with the IG's
 * own examples skip those comparisons then.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../../src/config';

const TGZ = path.join(path.resolve(REPO_ROOT, '..', 'shared', 'ig'), 'hl7.fhir.us.davinci-pas-2.2.1.tgz');

/** The unpacked `package` folder, or undefined without ../shared. */
export function pasPackage(): string | undefined {
  if (!fs.existsSync(TGZ)) return undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pas-ig-'));
  execFileSync('tar', ['-xzf', TGZ, '-C', dir, 'package']);
  return path.join(dir, 'package');
}

/** One `package` file of an IG tgz in ../shared/ig (e.g. `OperationDefinition-Claim-submit.json`), parsed; undefined without ../shared. */
export function igFile<T>(tgz: string, file: string): T | undefined {
  const archive = path.join(path.resolve(REPO_ROOT, '..', 'shared', 'ig'), tgz);
  if (!fs.existsSync(archive)) return undefined;
  return JSON.parse(execFileSync('tar', ['-xzOf', archive, `package/${file}`], { encoding: 'utf8' })) as T;
}
