/**
 * The payer's authorizations, one service for every protocol. CRD order-sign, PAS `$submit` and
 * clinical review call it and only parse, call and render:
 * - decide.ts `decideOrder()`: keys, authorizations on file, the engine, the grant a fresh approval files;
 * - grant.ts: the authorization a decision grants, saved in the caller's store transaction;
 * - on-file.ts: which authorization on file answers an order, and revocation;
 * - audit.ts: the audit row of a protocol call, written by the domain.
 */
export * from './on-file';
export * from './grant';
export * from './decide';
export * from './audit';
