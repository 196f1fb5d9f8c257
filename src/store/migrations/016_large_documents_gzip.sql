-- A large request or response Bundle is kept gzip-compressed (issue 11). A 1,000-item Claim's
-- answer is 6.3 MB of JSON: written as json it held PGlite's one connection for ~150 ms, and
-- grew its WebAssembly heap by tens of MB for good. Gzipped (off the event loop) it is ~140 KB.
-- Bundles under the store's threshold stay json, readable in SQL; exactly one column of a pair is set.
ALTER TABLE claims ALTER COLUMN request_bundle DROP NOT NULL;
ALTER TABLE claims ADD COLUMN request_bundle_gz bytea;
ALTER TABLE claims ADD CONSTRAINT claims_request_bundle_check CHECK ((request_bundle IS NULL) <> (request_bundle_gz IS NULL));
ALTER TABLE claim_response_versions ALTER COLUMN response_bundle DROP NOT NULL;
ALTER TABLE claim_response_versions ADD COLUMN response_bundle_gz bytea;
ALTER TABLE claim_response_versions ADD CONSTRAINT claim_response_versions_response_bundle_check
  CHECK ((response_bundle IS NULL) <> (response_bundle_gz IS NULL));
