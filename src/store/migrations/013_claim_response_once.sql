-- Each ClaimResponse is stored once (issue 11): the version row holds it, the claim row points to
-- its current version (claims.version). claims.claim_response / response_bundle stay only for rows
-- whose version is missing. In a version row, claim_response is NULL when it is the resource of
-- response_bundle.entry[claim_response_entry] (the ClaimResponse is always in its bundle).
ALTER TABLE claims ALTER COLUMN claim_response DROP NOT NULL;
ALTER TABLE claims ALTER COLUMN response_bundle DROP NOT NULL;
ALTER TABLE claim_response_versions ALTER COLUMN claim_response DROP NOT NULL;
ALTER TABLE claim_response_versions ADD COLUMN claim_response_entry integer;
ALTER TABLE claim_response_versions ADD CONSTRAINT claim_response_versions_body_check
  CHECK (claim_response IS NOT NULL OR claim_response_entry IS NOT NULL);

UPDATE claims c SET claim_response = NULL, response_bundle = NULL
  WHERE EXISTS (SELECT 1 FROM claim_response_versions v WHERE v.claim_id = c.id AND v.version = c.version);
