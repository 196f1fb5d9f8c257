-- Why an authorization was approved: after a clinical review of the criteria, or by a rule that spares
-- the review (e.g. Texas Marketplace: one prior authorization a year). A rule approval must not itself
-- start a new year of approvals without review, so the policies need to tell them apart.
ALTER TABLE authorizations ADD COLUMN basis text NOT NULL DEFAULT 'review' CHECK (basis IN ('review', 'rule'));
