-- The partners' revisions (baltetl.revisions.apply, after the resolution): what they asked, what was applied,
-- what could not be, and the contact persons they added.  Projects get a `hidden` column.

CREATE TABLE IF NOT EXISTS revisions (
    revision_id  VARCHAR PRIMARY KEY,   -- 'rev-' + hash of the row's content: stable while the row is unchanged
    file         VARCHAR NOT NULL,      -- the partner's file in the revisions folder
    line         INTEGER,               -- its line (CSV row / YAML list item)
    op           VARCHAR,
    target       VARCHAR,
    field        VARCHAR,
    value        VARCHAR,
    other        VARCHAR,
    author       VARCHAR,
    date         VARCHAR,               -- as written (YYYY-MM-DD when valid)
    reason       VARCHAR,
    details      JSON,                  -- name, country, role, email, consent_to_publish ... as given
    valid        BOOLEAN NOT NULL       -- meets the contract (schemas/revisions.py)
);
CREATE TABLE IF NOT EXISTS revisions_applied (
    revision_id  VARCHAR NOT NULL,
    run_id       VARCHAR NOT NULL,
    op           VARCHAR NOT NULL,
    target       VARCHAR NOT NULL,      -- golden_id / project_key the change was made to
    field        VARCHAR,
    before       VARCHAR,               -- the sources' value
    after        VARCHAR,               -- the published value
    author       VARCHAR,
    date         VARCHAR,
    reason       VARCHAR,
    applied_at   TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS revision_issues (
    revision_id  VARCHAR,               -- NULL: a problem of the whole file
    run_id       VARCHAR NOT NULL,
    kind         VARCHAR NOT NULL,      -- invalid | stale_target | conflict | unmatched
    message      VARCHAR NOT NULL,
    file         VARCHAR,
    line         INTEGER
);
CREATE TABLE IF NOT EXISTS persons (
    person_id           VARCHAR PRIMARY KEY,
    golden_id           VARCHAR NOT NULL,
    org_key             VARCHAR,
    name                VARCHAR NOT NULL,
    role                VARCHAR,
    email               VARCHAR,
    phone               VARCHAR,
    source              VARCHAR NOT NULL,
    consent_to_publish  BOOLEAN NOT NULL,
    revision_id         VARCHAR
);
ALTER TABLE projects ADD COLUMN IF NOT EXISTS hidden BOOLEAN DEFAULT false;
ALTER TABLE golden_organisations ADD COLUMN IF NOT EXISTS hidden BOOLEAN DEFAULT false;
