-- Analyst views.  They are evaluated when queried: "ongoing" is always relative to today.

-- Every staged record with the raw file it came from.
CREATE VIEW source_records AS
SELECT r.source, r.table_name, r.record_key, r.record_ref, f.file_name AS source_file, f.sha256 AS file_sha256,
       f.origin, f.fetched_at, f.run_id
FROM stg_records r
LEFT JOIN landed_files f ON f.source = r.source AND f.file_name = split_part(r.record_ref, '!', 1);

-- The organisations that are shown and counted: golden organisations not hidden, with data from a source that
-- is not only an illustrative sample (source_data.illustrative: the hand-made cluster registry).
CREATE VIEW shown_organisations AS
SELECT g.* FROM golden_organisations g
WHERE NOT coalesce(g.hidden, false)
  AND EXISTS (SELECT 1 FROM organisation_sources os WHERE os.golden_id = g.golden_id
              AND os.source NOT IN (SELECT source FROM source_data WHERE illustrative));

-- The one definition of "a project of a metropolis": a visible project with a shown partner placed there, by
-- the partner's address in the project or else by its organisation's.  metropolis_summary (baltetl status),
-- ongoing_projects, the site and the exports (public_project_metropolises) all count with it.
CREATE VIEW project_metropolises AS
SELECT DISTINCT pa.project_key, coalesce(pa.metropolis_id, g.metropolis_id) AS metropolis_id
FROM participations pa
JOIN organisation_sources os ON os.org_key = pa.org_key
JOIN shown_organisations g ON g.golden_id = os.golden_id
JOIN projects p ON p.project_key = pa.project_key AND NOT coalesce(p.hidden, false)
WHERE coalesce(pa.metropolis_id, g.metropolis_id) IS NOT NULL;

-- Ongoing projects (end date today or later) with at least one partner in a configured metropolis.
CREATE VIEW ongoing_projects AS
SELECT p.project_key, p.source, p.project_id, p.acronym, p.title, p.status, p.start_date, p.end_date,
       p.total_cost, p.ec_max_contribution, p.framework_programme, p.funding_scheme, p.topics,
       pm.metropolises, len(pm.metropolises) AS metropolis_count,
       count(DISTINCT pa.org_key) AS metropolis_partners,
       coalesce(bool_or(pa.role = 'coordinator'), false) AS coordinated_in_metropolis
FROM projects p
JOIN (SELECT project_key, list(metropolis_id ORDER BY metropolis_id) AS metropolises FROM project_metropolises
      GROUP BY project_key) pm ON pm.project_key = p.project_key
LEFT JOIN participations pa ON pa.project_key = p.project_key AND pa.metropolis_id IS NOT NULL
WHERE p.end_date >= current_date
GROUP BY ALL;

-- Organisations placed in a metropolis, and how they were placed.
CREATE VIEW organisations_by_metropolis AS
SELECT m.metropolis_id, m.name AS metropolis, o.org_key, os.golden_id, o.source, o.name, o.short_name,
       o.activity_type, o.org_type, o.city, o.country, o.nuts3, o.assigned_by, o.assigned_from,
       count(pa.project_key) AS participations,
       count(DISTINCT pa.project_key) FILTER (WHERE p.end_date >= current_date) AS ongoing_projects
FROM organisations o
JOIN metropolises m ON m.metropolis_id = o.metropolis_id
LEFT JOIN organisation_sources os ON os.org_key = o.org_key
LEFT JOIN participations pa ON pa.org_key = o.org_key
LEFT JOIN projects p ON p.project_key = pa.project_key
GROUP BY ALL;

-- Per metropolis, one definition of each figure (baltetl status, the site and the exports show these):
-- organisations (shown golden organisations placed there), source records, participations, projects and
-- ongoing projects (project_metropolises).
CREATE VIEW metropolis_summary AS
SELECT m.metropolis_id, m.name, m.country,
       (SELECT count(*) FROM shown_organisations g WHERE g.metropolis_id = m.metropolis_id) AS organisations,
       (SELECT count(*) FROM organisations o WHERE o.metropolis_id = m.metropolis_id) AS source_records,
       (SELECT count(*) FROM participations pa WHERE pa.metropolis_id = m.metropolis_id) AS participations,
       (SELECT count(*) FROM project_metropolises pm WHERE pm.metropolis_id = m.metropolis_id) AS projects,
       (SELECT count(*) FROM project_metropolises pm JOIN projects p ON p.project_key = pm.project_key
        WHERE pm.metropolis_id = m.metropolis_id AND p.end_date >= current_date) AS ongoing_projects
FROM metropolises m
ORDER BY m.metropolis_id;

-- The last run of each source.
CREATE VIEW last_runs AS
SELECT * FROM runs QUALIFY row_number() OVER (PARTITION BY source ORDER BY started_at DESC) = 1;
