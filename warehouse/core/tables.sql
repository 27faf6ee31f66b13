-- The core tables, one row per record of any source.  Created first in every build: staging reads their columns
-- (each source's stg_<source>__<table> is cast to them in stg_<table>); core/from_staging.sql fills them.
-- Keys are '<source>:<source id>'.

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
