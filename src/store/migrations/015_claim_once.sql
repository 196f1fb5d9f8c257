-- Each Claim is stored once (issue 11): new rows keep it only as its request bundle's entry
-- (claims.claim_entry), as 013 did for the ClaimResponse; claims.claim stays for older rows and
-- for a Claim that is not in its bundle. Its identifiers, searched by findClaimByIdentifier, get a
-- column of their own.
ALTER TABLE claims ALTER COLUMN claim DROP NOT NULL;
ALTER TABLE claims ADD COLUMN claim_entry integer;
ALTER TABLE claims ADD COLUMN claim_identifiers jsonb NOT NULL DEFAULT '[]';
ALTER TABLE claims ADD CONSTRAINT claims_claim_check CHECK (claim IS NOT NULL OR claim_entry IS NOT NULL);
UPDATE claims SET claim_identifiers = coalesce((claim -> 'identifier')::jsonb, '[]');
DROP INDEX claims_identifiers_gin;
CREATE INDEX claims_identifiers_gin ON claims USING gin (claim_identifiers jsonb_path_ops);
