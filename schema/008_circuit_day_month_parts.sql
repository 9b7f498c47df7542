-- The same for local days and months (see 007): how many of a day's half-hours and of a month's
-- days were complete when it was last computed, so a changed half-hour moves its day, and a
-- changed day its month, by the difference. NULL (rows from before): fold again at the next change.
ALTER TABLE circuit_daily ADD COLUMN complete_hh INTEGER;
ALTER TABLE circuit_monthly ADD COLUMN complete_days INTEGER;
