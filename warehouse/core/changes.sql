-- Every change to a tracked record between builds (baltetl.history.track fills it from the history kept in
-- the state; the per-table <table>_closed_versions and <table>_history are made there, one per tracked table).

CREATE TABLE changes (
    run_id      VARCHAR NOT NULL,      -- the run whose build recorded the change
    changed_at  TIMESTAMP NOT NULL,    -- when (UTC); = valid_from of the new version
    table_name  VARCHAR NOT NULL,      -- projects | organisations | participations
    record_key  VARCHAR NOT NULL,      -- project_key, org_key, or project_key|org_key|role|ord
    source      VARCHAR,
    change      VARCHAR NOT NULL,      -- added | removed | changed
    field       VARCHAR,               -- changed: the column; NULL for added / removed
    before      VARCHAR,
    after       VARCHAR
);
