-- Fractions analytics writes are read back as they were written: real (float4) turned a campaign's holdout
-- share of 0.3 into 0.30000001192092896, and members' recency likewise. Existing values go through numeric,
-- which keeps float4's shortest text ("0.3").
ALTER TABLE campaigns
    ALTER COLUMN holdout_share TYPE double precision USING holdout_share::numeric::double precision;
ALTER TABLE segment_members
    ALTER COLUMN recency_days TYPE double precision USING recency_days::numeric::double precision;
