-- Operator views over the shadows (SPEC §9, §10). They read the stored documents directly, so
-- they are always as current as the last commit.
CREATE VIEW meter_shadows AS
SELECT m.id, m.serial,
       json_extract(d.document, '$.state.reported.balance') AS balance,
       json_extract(d.document, '$.state.reported.emergency_credit') AS emergency_credit,
       max(coalesce(json_extract(d.document, '$.metadata.reported.balance.timestamp'), ''),
           coalesce(json_extract(d.document, '$.metadata.reported.emergency_credit.timestamp'), ''))
           AS balance_updated_at,
       json_extract(d.document, '$.state.reported.tariffs_active') AS tariffs_active,
       json_extract(d.document, '$.state.reported.tariffs_future') AS tariffs_future,
       json_extract(d.document, '$.state.reported.csq') AS csq,
       json_extract(d.document, '$.state.reported.health') AS health,
       json_extract(d.document, '$.state.reported.health_details') AS health_details,
       json_extract(d.document, '$.state.reported.clock_time_diff_seconds') AS clock_time_diff_seconds,
       json_extract(d.document, '$.state.reported.import_a') AS import_a,
       json_extract(d.document, '$.state.reported.import_b') AS import_b,
       json_extract(d.document, '$.state.reported.export_a') AS export_a,
       json_extract(d.document, '$.state.reported.export_b') AS export_b,
       d.version,
       strftime('%Y-%m-%dT%H:%M:%SZ', s.last_seen, 'unixepoch') AS last_seen_at,
       d.updated_at
FROM meter_registry m
LEFT JOIN shadow_documents d ON d.serial = m.serial AND d.deleted = 0
LEFT JOIN meter_state s ON s.meter_id = m.id;

-- The future tariff is the one being pushed (desired) while there is one, else what the meter
-- reports holding.
CREATE VIEW meter_shadows_tariffs AS
SELECT m.id AS meter_id, m.serial,
       json_extract(d.document, '$.state.reported.tariffs_active.standing_charge') AS active_standing_charge,
       json_extract(d.document, '$.state.reported.tariffs_active.unit_rate_element_a') AS active_unit_rate_element_a,
       json_extract(d.document, '$.state.reported.tariffs_active.unit_rate_element_b') AS active_unit_rate_element_b,
       json_extract(d.document, '$.state.reported.tariffs_active.prepayment_ecredit_availability') AS active_prepayment_ecredit_availability,
       json_extract(d.document, '$.state.reported.tariffs_active.prepayment_debt_recovery_rate') AS active_prepayment_debt_recovery_rate,
       json_extract(d.document, '$.state.reported.tariffs_active.prepayment_emergency_credit') AS active_prepayment_emergency_credit,
       json_extract(f.tariff, '$.standing_charge') AS future_standing_charge,
       json_extract(f.tariff, '$.unit_rate_element_a') AS future_unit_rate_element_a,
       json_extract(f.tariff, '$.unit_rate_element_b') AS future_unit_rate_element_b,
       json_extract(f.tariff, '$.prepayment_ecredit_availability') AS future_prepayment_ecredit_availability,
       json_extract(f.tariff, '$.prepayment_debt_recovery_rate') AS future_prepayment_debt_recovery_rate,
       json_extract(f.tariff, '$.prepayment_emergency_credit') AS future_prepayment_emergency_credit,
       json_extract(f.tariff, '$.activation_datetime') AS future_activation_datetime,
       strftime('%Y-%m-%dT%H:%M:%SZ', s.future_activation_at, 'unixepoch') AS future_activation_at
FROM meter_registry m
LEFT JOIN shadow_documents d ON d.serial = m.serial AND d.deleted = 0
LEFT JOIN meter_state s ON s.meter_id = m.id
LEFT JOIN (SELECT serial, coalesce(json_extract(document, '$.state.desired.tariffs_future'),
                                   json_extract(document, '$.state.reported.tariffs_future')) AS tariff
           FROM shadow_documents WHERE deleted = 0) f ON f.serial = m.serial;

CREATE VIEW meters_offline_recently AS
SELECT m.id AS meter_id, m.serial, m.name,
       strftime('%Y-%m-%dT%H:%M:%SZ', s.last_seen, 'unixepoch') AS last_online
FROM meter_registry m JOIN meter_state s ON s.meter_id = m.id
WHERE s.online = 0 AND s.last_seen >= unixepoch('now') - 86400;

CREATE VIEW meters_low_balance AS
SELECT m.id AS meter_id, m.serial, m.name,
       json_extract(d.document, '$.state.reported.balance') AS balance,
       json_extract(d.document, '$.state.reported.emergency_credit') AS emergency_credit
FROM meter_registry m JOIN meter_state s ON s.meter_id = m.id
JOIN shadow_documents d ON d.serial = m.serial AND d.deleted = 0
WHERE s.low_balance = 1;

CREATE VIEW meters_clock_drift AS
SELECT m.id AS meter_id, m.serial, m.name,
       json_extract(d.document, '$.state.reported.clock_time_diff_seconds') AS clock_time_diff_seconds
FROM meter_registry m JOIN meter_state s ON s.meter_id = m.id
JOIN shadow_documents d ON d.serial = m.serial AND d.deleted = 0
WHERE s.clock_drift = 1;
