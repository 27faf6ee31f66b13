-- The data-quality report of the run that built this warehouse, one row per configured source
-- (baltetl.report; also a Prefect artifact 'data-quality' and `baltetl status`).
CREATE TABLE quality_report (
    run_id            VARCHAR NOT NULL,
    source            VARCHAR NOT NULL,
    status            VARCHAR,                     -- in that run; NULL = not refreshed in it
    rows_read         BIGINT,
    rows_loaded       BIGINT,
    rows_quarantined  BIGINT,                      -- rows held back
    fields_nulled     BIGINT,                      -- values emptied in rows that loaded (quarantined, action field_nulled)
    unchanged         BOOLEAN,                     -- input as last time: not parsed again, its data kept
    duration_s        DOUBLE,
    message           VARCHAR,
    last_good_at      TIMESTAMP,                   -- when its data in use was loaded or last confirmed unchanged
    age_days          DOUBLE,
    cadence_days      DOUBLE,                      -- how often the source publishes (configuration)
    stale             BOOLEAN NOT NULL,            -- no data, or older than its cadence
    top_checks        JSON,                        -- [{table, check, rows}]: the checks its data failed most
    generated_at      TIMESTAMP NOT NULL
);
