-- A visit is never changed or deleted (留痕): a correction is a new visit that names the one it
-- corrects (`corrects`), and the corrected one is marked (`corrected_by`) and kept as it was.
-- Plans, coverage and rankings count only visits not corrected. One correction per visit: a
-- later correction corrects the correction.
ALTER TABLE visits ADD COLUMN corrects BIGINT REFERENCES visits (id);
ALTER TABLE visits ADD COLUMN corrected_by BIGINT REFERENCES visits (id);
CREATE UNIQUE INDEX visits_one_correction ON visits (corrects) WHERE corrects IS NOT NULL;
