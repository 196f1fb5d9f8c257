/**
 * `Claim/$submit`'s reads before its evaluation: the member's authorizations on file are asked for
 * beside the resend check, not after its answer (one store round trip less to wait for).
 */
import crypto from 'node:crypto';
import { openStore, type Store } from '../../src/store';
import { submitClaim } from '../../src/pas/submit';
import { silentLogger } from '../../src/logger';
import { pasRequest, sharedEngine } from '../review/support';

let store: Store;
beforeAll(async () => {
  store = await openStore({ dataDir: 'memory://' });
}, 60_000);
afterAll(async () => {
  await store?.close();
});

/** The store, with the resend check held until the member's authorizations are asked for (or 2 s pass). */
function withHeldResendCheck(inner: Store): { store: Store; order: string[] } {
  const order: string[] = [];
  let asked!: () => void;
  const fileAsked = new Promise<void>((resolve) => (asked = resolve));
  const held = Object.create(inner) as Store;
  held.listAuthorizations = (filter) => {
    order.push('authorizations asked');
    asked();
    return inner.listAuthorizations(filter);
  };
  held.findClaimBySubmissionKey = async (key) => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([fileAsked, new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]);
    clearTimeout(timer);
    order.push('resend check answered');
    return inner.findClaimBySubmissionKey(key);
  };
  return { store: held, order };
}

test('the member file is asked for before the resend check answers', async () => {
  const { store: held, order } = withHeldResendCheck(store);
  const result = await submitClaim({ engine: sharedEngine(), store: held, clock: () => new Date('2026-11-20T15:00:00Z'), logger: silentLogger }, pasRequest('kineret'), crypto.randomUUID());
  expect(result.status).toBe(200);
  expect(order.slice(0, 2)).toEqual(['authorizations asked', 'resend check answered']);
}, 60_000);

test('a resend is answered from its first answer, whatever the early member read', async () => {
  const bundle = pasRequest('kineret');
  const deps = { engine: sharedEngine(), store, clock: () => new Date('2026-11-20T15:00:00Z'), logger: silentLogger };
  const first = await submitClaim(deps, structuredClone(bundle), crypto.randomUUID());
  const again = await submitClaim(deps, structuredClone(bundle), crypto.randomUUID());
  expect(again.body).toEqual(first.body);
  expect(again.decisions).toEqual([]);
}, 60_000);
