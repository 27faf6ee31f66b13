-- The record of the loads (from the state, baltetl.warehouse): which raw files, which runs, what was
-- held back.  Filled by the build's Python step after the core tables.

-- Raw files each source's current data was read from.
CREATE TABLE landed_files (
    source      VARCHAR NOT NULL,
    file_name   VARCHAR NOT NULL,
    sha256      VARCHAR NOT NULL,
    bytes       BIGINT,
    origin      VARCHAR,                           -- URL, input:<path> or sample:<name>
    fetched_at  TIMESTAMP,
    run_id      VARCHAR NOT NULL                   -- the run that loaded it
);

-- One row per run and source.
CREATE TABLE runs (
    run_id            VARCHAR NOT NULL,
    source            VARCHAR NOT NULL,
    status            VARCHAR NOT NULL,            -- success | unchanged (input as last time) | failed | skipped
    started_at        TIMESTAMP,
    finished_at       TIMESTAMP,
    duration_s        DOUBLE,
    rows_read         BIGINT,
    rows_loaded       BIGINT,
    rows_quarantined  BIGINT,
    tables            JSON,                        -- per table: read, loaded, quarantined, repaired, top checks
    input_files       JSON,
    message           VARCHAR,
    PRIMARY KEY (run_id, source)
);

-- Values that failed their contract (or records that could not be parsed), with the reason.  Never silently
-- dropped.  action: row_held (the record, and the rows referring to it, did not load: its key or identity, a
-- required field or a table-wide check failed) or field_nulled (the record loaded with this field empty).
CREATE TABLE quarantine (
    run_id         VARCHAR NOT NULL,
    source         VARCHAR NOT NULL,
    table_name     VARCHAR NOT NULL,
    record_key     VARCHAR,
    record_ref     VARCHAR,
    column_name    VARCHAR,
    check_name     VARCHAR NOT NULL,
    failure_value  VARCHAR,
    action         VARCHAR                      -- row_held | field_nulled (NULL: recorded before the marker: held)
);
