-- Cross-source resolution: one golden organisation per real organisation.  Created and filled by the
-- resolution step (baltetl.resolve.run: the clustering is Python), after core/from_staging.sql.

-- One row per golden organisation (the revisions may correct, hide or add them).
CREATE OR REPLACE TABLE golden_organisations (
    golden_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, short_name VARCHAR, org_type VARCHAR,
    activity_type VARCHAR, country VARCHAR, city VARCHAR, nuts3 VARCHAR, website VARCHAR, metropolis_id VARCHAR,
    assigned_by VARCHAR, sources VARCHAR[], records INTEGER, hidden BOOLEAN NOT NULL DEFAULT false,
    name_en VARCHAR, name_local VARCHAR, ror_id VARCHAR, wikidata_id VARCHAR, type_from_name VARCHAR,
    type_from_name_p DOUBLE, name_withheld BOOLEAN NOT NULL DEFAULT false);

-- Each source record (org_key) and the golden organisation it belongs to, by which rule.
CREATE OR REPLACE TABLE organisation_sources (
    org_key VARCHAR PRIMARY KEY, golden_id VARCHAR NOT NULL, source VARCHAR, match_rule VARCHAR, score DOUBLE,
    source_id VARCHAR, matched_country VARCHAR, country_evidence VARCHAR, name_withheld BOOLEAN NOT NULL DEFAULT false);

-- How golden ids came, merged, split and went, run by run (the id registry's log).
CREATE OR REPLACE TABLE golden_id_history (
    run_id VARCHAR, golden_id VARCHAR, event VARCHAR, other_id VARCHAR, org_keys VARCHAR[], "at" TIMESTAMP);
