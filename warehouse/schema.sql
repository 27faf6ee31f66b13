-- baltetl warehouse: core tables.  Each build creates them in a new file from the per-source
-- snapshots (stg_<source>__<table>), then swaps the file in.  Keys are '<source>:<source id>'.

-- One row per project, any source.
CREATE TABLE projects (
    project_key          VARCHAR PRIMARY KEY,      -- 'cordis:101099552'
    source               VARCHAR NOT NULL,
    project_id           VARCHAR NOT NULL,         -- the source's id (CORDIS grant number)
    acronym              VARCHAR,
    title                VARCHAR,
    status               VARCHAR,                  -- CORDIS: SIGNED, CLOSED, TERMINATED
    start_date           DATE,
    end_date             DATE,
    total_cost           DECIMAL(18, 2),           -- NULL = not reported (CORDIS totalCost 0)
    ec_max_contribution  DECIMAL(18, 2),
    framework_programme  VARCHAR,                  -- HORIZON, H2020, FP7, INTERREG
    programme            VARCHAR,                  -- e.g. '2014 - 2020 INTERREG VB Baltic Sea' (keep.eu)
    funding_scheme       VARCHAR,                  -- HORIZON-RIA, HORIZON-CSA ...
    legal_basis          VARCHAR,                  -- ';'-separated programme codes
    topics               VARCHAR,                  -- ';'-separated call topics
    keywords             VARCHAR,
    euroscivoc           VARCHAR,                  -- ';'-separated euroSciVoc paths (/29/91/521)
    objective            VARCHAR,
    url                  VARCHAR,
    record_ref           VARCHAR NOT NULL          -- lineage: file!member (see source_records)
);

-- One row per organisation and source (cross-source resolution comes later).
CREATE TABLE organisations (
    org_key              VARCHAR PRIMARY KEY,      -- 'cordis:999606438'
    source               VARCHAR NOT NULL,
    org_id               VARCHAR NOT NULL,         -- CORDIS organisationID (PIC-based)
    name                 VARCHAR NOT NULL,
    short_name           VARCHAR,
    vat_number           VARCHAR,
    activity_type        VARCHAR,                  -- CORDIS: HES university, REC research, PRC company, PUB public body, OTH
    org_type             VARCHAR,                  -- the source's own type: municipality, cluster, 'Local public authority' ...
    legal_status         VARCHAR,                  -- public | private | other, where the source says
    sme                  BOOLEAN,
    street               VARCHAR,
    post_code            VARCHAR,
    city                 VARCHAR,
    country              VARCHAR,                  -- ISO 3166 alpha-2
    country_source       VARCHAR,                  -- as the source wrote it (EL, UK)
    nuts3                VARCHAR,
    website              VARCHAR,
    metropolis_id        VARCHAR,                  -- see metropolises; NULL = in none
    assigned_by          VARCHAR,                  -- postcode | postcode_prefix | nuts3 | lau | municipality | city_alias (placement.py)
    assigned_from        VARCHAR,                  -- the NUTS3 code or place name that matched
    record_ref           VARCHAR NOT NULL
);

-- Who takes part in which project, in which role.  The address is the one given for this participation.
CREATE TABLE participations (
    project_key          VARCHAR NOT NULL,
    org_key              VARCHAR NOT NULL,
    source               VARCHAR NOT NULL,
    role                 VARCHAR NOT NULL,         -- coordinator (lead partner), participant, thirdParty, associatedPartner ...
    ord                  INTEGER NOT NULL,         -- partner number in the project
    ec_contribution      DECIMAL(18, 2),
    net_ec_contribution  DECIMAL(18, 2),
    total_cost           DECIMAL(18, 2),
    sme                  BOOLEAN,
    terminated           BOOLEAN,
    city                 VARCHAR,
    post_code            VARCHAR,
    country              VARCHAR,
    country_source       VARCHAR,
    nuts3                VARCHAR,
    metropolis_id        VARCHAR,
    assigned_by          VARCHAR,
    assigned_from        VARCHAR,
    record_ref           VARCHAR NOT NULL,
    PRIMARY KEY (project_key, org_key, role, ord)
);

-- Who belongs to which network: Eurocities, BaltMet, UBC ...
CREATE TABLE network_memberships (
    network              VARCHAR NOT NULL,         -- 'Eurocities', 'BaltMet', 'UBC' ...
    org_key              VARCHAR NOT NULL,         -- the member, an organisation of the same source
    source               VARCHAR NOT NULL,
    member_name          VARCHAR NOT NULL,         -- as the network writes it
    country              VARCHAR,
    category             VARCHAR,                  -- membership category / status as the network words it
    joined_year          INTEGER,
    record_ref           VARCHAR NOT NULL,
    PRIMARY KEY (network, org_key)
);

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

-- What this warehouse was built from (baltetl.buildinfo): a refresh that changes none of it skips the build.
CREATE TABLE build_info (
    run_id       VARCHAR NOT NULL,
    built_at     TIMESTAMP NOT NULL,
    fingerprint  VARCHAR NOT NULL,                 -- sha256 over the parts
    parts        JSON,                             -- snapshots per source, revision files, config, code, reference
    history_head VARCHAR                           -- the history version (state/history) this build holds
);
