export * from './store';
export { newAuthorizationNumber, memberKey, memberKeyOf, orderKeyOf } from './keys';
export { migrate, loadMigrations, MIGRATIONS_DIR } from './migrate';
export { StoreError, DuplicateSubmissionError, ConflictError, isUniqueViolation } from './sql';
export type { SqlClient, SqlExecutor, QueryResult } from './sql';
