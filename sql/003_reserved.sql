-- 003: reserved for the signing work (helper "sign") that runs in parallel;
-- migrations must be contiguous, so this empty step keeps 004 applicable
-- until that migration takes the number. The lead drops this file at merge.
SELECT 1;
