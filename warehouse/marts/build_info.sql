-- What this warehouse was built from (baltetl.buildinfo): a refresh that changes none of it skips the build.
CREATE TABLE build_info (
    run_id       VARCHAR NOT NULL,
    built_at     TIMESTAMP NOT NULL,
    fingerprint  VARCHAR NOT NULL,                 -- sha256 over the parts
    parts        JSON,                             -- snapshots per source, revision files, config, code, reference
    history_head VARCHAR                           -- the history version (state/history) this build holds
);
