-- Audit queries on a sentinel-logd store, for the sqlite3 shell:
--
--     sqlite3 -readonly data/sentinel.db < audit_queries.sql
--
-- They read the view events(id, type, message, timestamp, data, ts_us, body)
-- and are safe while the server runs. "timestamp" is the producer's text,
-- verbatim; ts_us is the same instant in microseconds since 1970 UTC, and
-- is indexed (journal_ts, and journal_type_ts with the type): compare times
-- through ts_us, which also orders events sent with different offsets
-- correctly. Each query below is run and its result checked by
-- test_audit.py on the events of fixtures/sentinel_events.jsonl.

-- name: errors_of_service
-- Which errors did postgresql report on 2026-03-09 between 14:00 and 17:00 UTC?
SELECT id, timestamp, json_extract(data, '$.error_type') AS error_type, message
FROM events
WHERE type = 'error'
  AND json_extract(data, '$.service') = 'postgresql'
  AND ts_us >= unixepoch('2026-03-09T14:00:00') * 1000000
  AND ts_us <  unixepoch('2026-03-09T17:00:00') * 1000000
ORDER BY ts_us, id;

-- name: config_changes
-- Which services were added to or removed from monitoring, and when?
SELECT id, timestamp,
       json_extract(data, '$.service_name') AS service,
       json_extract(data, '$.action') AS action
FROM events
WHERE type = 'config'
ORDER BY ts_us, id;

-- name: events_per_type_per_hour
-- How many events of each type were logged in each hour (UTC)?
SELECT strftime('%Y-%m-%dT%H:00Z', ts_us / 1000000, 'unixepoch') AS hour,
       type,
       count(*) AS events
FROM events
GROUP BY hour, type
ORDER BY hour, type;

-- name: security_events
-- Which security events were logged, with who or what was involved?
SELECT id, timestamp, message,
       json_extract(data, '$.action') AS action,
       coalesce(json_extract(data, '$.source_ip'), json_extract(data, '$.user'),
                json_extract(data, '$.actor')) AS subject
FROM events
WHERE type = 'security'
ORDER BY ts_us, id;

-- name: agent_timeline
-- What did the agent do about postgresql, from diagnosis to remediation, in time order?
SELECT id, timestamp,
       json_extract(data, '$.step') AS step,
       json_extract(data, '$.action') AS action,
       message
FROM events
WHERE type = 'agent' AND json_extract(data, '$.service') = 'postgresql'
ORDER BY ts_us, id;

-- name: services_down
-- Which services are down, going by the latest monitor status of each service?
WITH latest AS (
    SELECT json_extract(data, '$.service') AS service,
           json_extract(data, '$.status') AS status,
           timestamp,
           row_number() OVER (PARTITION BY json_extract(data, '$.service')
                              ORDER BY ts_us DESC, id DESC) AS n
    FROM events
    WHERE type = 'monitor'
)
SELECT service, timestamp AS stopped_at
FROM latest
WHERE n = 1 AND status = 'stopped'
ORDER BY service;

-- name: last_events
-- What are the last 5 events the store received?
SELECT id, type, timestamp, message
FROM events
ORDER BY id DESC
LIMIT 5;

-- name: events_per_service
-- How many events concern each service (data.service or data.service_name)?
SELECT coalesce(json_extract(data, '$.service'),
                json_extract(data, '$.service_name')) AS service,
       count(*) AS events
FROM events
WHERE service IS NOT NULL
GROUP BY service
ORDER BY events DESC, service;

-- name: time_range
-- What happened between 17:00 and 18:00 UTC, whatever offset each producer wrote?
SELECT id, type, timestamp, message
FROM events
WHERE ts_us >= unixepoch('2026-03-09T17:00:00') * 1000000
  AND ts_us <  unixepoch('2026-03-09T18:00:00') * 1000000
ORDER BY ts_us, id;

-- name: type_time_range
-- Which errors were logged from 15:30 UTC on?
SELECT id, timestamp, message
FROM events
WHERE type = 'error'
  AND ts_us >= unixepoch('2026-03-09T15:30:00') * 1000000
ORDER BY ts_us, id;

-- name: events_from_ip
-- Which events involve the address 203.0.113.45?
SELECT id, type, timestamp, message
FROM events
WHERE json_extract(data, '$.source_ip') = '203.0.113.45'
ORDER BY ts_us, id;

-- name: fields_beyond_the_usual
-- Which events carry top-level fields other than type, message, timestamp and data?
SELECT e.id, f.key AS field, f.value
FROM events AS e, json_each(e.body) AS f
WHERE f.key NOT IN ('type', 'message', 'timestamp', 'data')
ORDER BY e.id, f.key;
