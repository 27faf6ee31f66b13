-- What is published.  The website and the open-data exports (`baltetl publish`) read these views and nothing
-- else.  Hidden organisations and projects never reach them; persons only through `public_persons`
-- (consented persons of non-hidden organisations, created by the revisions step), and no name of a source record
-- named after a person (organisation_sources.name_withheld; baltetl.personal).  E-mail addresses written
-- into source text (keep.eu has partner names like 'Région X anne.x@region-x.fr') are removed: the only
-- e-mail addresses published are those of consented persons.
--
-- Run at the end of every build.  A block after a line `-- requires: t1, t2` is run only when those tables
-- exist (the topic and opportunity marts); the next such line or the end of the file ends the block.

CREATE OR REPLACE MACRO public_text(s) AS
    nullif(trim(regexp_replace(regexp_replace(s, '[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}', '', 'g'),
                               '\s{2,}', ' ', 'g')), '');

-- Consented persons of non-hidden organisations (as revisions.py defines the view), the organisation's name
-- as it is published.
CREATE OR REPLACE VIEW public_persons AS
SELECT p.person_id, p.golden_id, public_text(g.name) AS organisation, p.name, p.role, p.email, p.phone
FROM persons p
JOIN golden_organisations g ON g.golden_id = p.golden_id
WHERE p.consent_to_publish AND NOT coalesce(g.hidden, false);

-- Each project's metropolises: a partner placed there by its address in the project or by its organisation
-- (the one definition, marts/views.sql's project_metropolises).
CREATE OR REPLACE VIEW public_project_metropolises AS
SELECT project_key, metropolis_id FROM project_metropolises;

-- Projects with a partner in a configured metropolis.  ongoing: ends today or later.
CREATE OR REPLACE VIEW public_projects AS
SELECT p.project_key, p.source, p.project_id, public_text(p.acronym) AS acronym, public_text(p.title) AS title,
       p.status, p.start_date, p.end_date, p.end_date >= current_date AS ongoing, p.total_cost,
       p.ec_max_contribution, p.framework_programme, p.programme, p.funding_scheme, p.topics, p.keywords,
       public_text(p.objective) AS objective, p.url,
       (SELECT list(DISTINCT m.metropolis_id ORDER BY m.metropolis_id) FROM public_project_metropolises m
        WHERE m.project_key = p.project_key) AS metropolises
FROM projects p
WHERE NOT coalesce(p.hidden, false)
  AND p.project_key IN (SELECT project_key FROM public_project_metropolises);

-- Who takes part in a published project: the golden organisation, its role, and where the partner sits.
CREATE OR REPLACE VIEW public_participations AS
SELECT pa.project_key, os.golden_id, pa.role, pa.ord, pa.ec_contribution, pa.country, pa.city,
       coalesce(pa.metropolis_id, g.metropolis_id) AS metropolis_id
FROM participations pa
JOIN organisation_sources os ON os.org_key = pa.org_key
JOIN shown_organisations g ON g.golden_id = os.golden_id
WHERE pa.project_key IN (SELECT project_key FROM public_project_metropolises);

-- Organisations (shown: not hidden, not only from an illustrative sample): in a metropolis, a partner of a
-- published project, or with a consented contact person.
CREATE OR REPLACE VIEW public_organisations AS
SELECT g.golden_id, public_text(g.name) AS name, public_text(g.short_name) AS short_name, g.org_type,
       g.activity_type, g.country, g.city, g.nuts3, public_text(g.website) AS website, g.metropolis_id,
       public_text(g.name_en) AS name_en, public_text(g.name_local) AS name_local, g.ror_id, g.wikidata_id,
       g.type_from_name, g.type_from_name_p, g.name_withheld,
       (SELECT list(s ORDER BY s) FROM unnest(g.sources) AS u(s)
        WHERE s NOT IN (SELECT source FROM source_data WHERE illustrative)) AS sources
FROM shown_organisations g
WHERE (g.metropolis_id IS NOT NULL
       OR g.golden_id IN (SELECT golden_id FROM public_participations)
       OR g.golden_id IN (SELECT golden_id FROM public_persons));

-- The source records behind each published organisation (lineage), with the name as the source writes it, but
-- for a record named after a person (name_withheld): its name, its source id and its key (each names her, or
-- leads to her name in the source) stay in the warehouse; the record is 'withheld:<golden id>:<n>'.
CREATE OR REPLACE VIEW public_organisation_sources AS
SELECT os.golden_id,
       CASE WHEN NOT os.name_withheld THEN os.org_key
            ELSE 'withheld:' || os.golden_id || ':' || row_number() OVER (PARTITION BY os.golden_id, os.name_withheld
                                                                          ORDER BY os.org_key) END AS org_key,
       os.source,
       CASE WHEN NOT os.name_withheld THEN public_text(os.source_id) END AS source_id,
       CASE WHEN NOT os.name_withheld THEN public_text(o.name) END AS source_name,
       os.match_rule, os.matched_country, os.country_evidence, os.name_withheld
FROM organisation_sources os
JOIN organisations o ON o.org_key = os.org_key
WHERE os.golden_id IN (SELECT golden_id FROM public_organisations)
  AND os.source NOT IN (SELECT source FROM source_data WHERE illustrative);

CREATE OR REPLACE VIEW public_network_memberships AS
SELECT os.golden_id, n.network, n.category, n.joined_year, n.source
FROM network_memberships n
JOIN organisation_sources os ON os.org_key = n.org_key
WHERE os.golden_id IN (SELECT golden_id FROM public_organisations)
  AND n.source NOT IN (SELECT source FROM source_data WHERE illustrative);

-- The metropolises with their figures, as metropolis_summary (and so baltetl status) counts them.
CREATE OR REPLACE VIEW public_metropolises AS
SELECT m.metropolis_id, m.name, m.country, m.fua_id, m.fua_population, s.organisations, s.projects,
       s.ongoing_projects
FROM metropolises m
JOIN metropolis_summary s ON s.metropolis_id = m.metropolis_id;

-- Each source's data: the date of the data itself (source_data, see baltetl.sourcedates) and, apart, when
-- its files were fetched (the snapshot), and where from when that was a URL; illustrative: a made-up sample,
-- none of its records is published.
CREATE OR REPLACE VIEW public_sources AS
SELECT f.source, any_value(d.data_date) AS data_date, any_value(d.data_date_basis) AS data_date_basis,
       max(f.fetched_at)::DATE AS snapshot_date, count(*) AS files,
       string_agg(DISTINCT f.origin, ' ' ORDER BY f.origin) FILTER (WHERE f.origin LIKE 'http%') AS urls,
       coalesce(any_value(d.illustrative), false) AS illustrative
FROM landed_files f
LEFT JOIN source_data d ON d.source = f.source
GROUP BY f.source;

-- Co-operation between metropolises: ongoing projects with partners in both.  Replaced by the mart below
-- when it exists.
CREATE OR REPLACE VIEW public_metropolis_links AS
WITH pairs AS (
    SELECT a.metropolis_id AS metro_a, b.metropolis_id AS metro_b, a.project_key
    FROM public_project_metropolises a
    JOIN public_project_metropolises b ON b.project_key = a.project_key AND a.metropolis_id < b.metropolis_id
    JOIN public_projects p ON p.project_key = a.project_key AND p.ongoing
)
SELECT metro_a, metro_b, count(DISTINCT project_key) AS ongoing_projects, NULL::BIGINT AS related_projects,
       (SELECT count(DISTINCT pa.golden_id) FROM public_participations pa
        WHERE pa.project_key IN (SELECT x.project_key FROM pairs x WHERE x.metro_a = pairs.metro_a AND x.metro_b = pairs.metro_b)
          AND pa.metropolis_id IN (pairs.metro_a, pairs.metro_b)) AS organisations,
       list(DISTINCT project_key ORDER BY project_key) AS project_keys
FROM pairs
GROUP BY metro_a, metro_b;

-- requires: project_topics
CREATE OR REPLACE VIEW public_project_topics AS
SELECT t.project_key, t.relevant, t.topics, t.reasons
FROM project_topics t
WHERE t.project_key IN (SELECT project_key FROM public_projects);

-- requires: topic_profile
-- The topics of the profile with their labels (pages show labels, the marts hold ids).
CREATE OR REPLACE VIEW public_topics AS
SELECT topic, any_value(label) AS label FROM topic_profile GROUP BY topic;

-- requires: organisation_topics
CREATE OR REPLACE VIEW public_organisation_topics AS
SELECT t.golden_id, t.topic, t.weight
FROM organisation_topics t
WHERE t.golden_id IN (SELECT golden_id FROM public_organisations);

-- requires: metropolis_links
CREATE OR REPLACE VIEW public_metropolis_links AS
SELECT l.metro_a, l.metro_b, l.ongoing_projects, l.related_projects, l.organisations,
       (SELECT list(k ORDER BY k) FROM unnest(l.project_keys) AS u(k)
        WHERE k IN (SELECT project_key FROM public_projects)) AS project_keys
FROM metropolis_links l;

-- requires: opportunities
CREATE OR REPLACE VIEW public_opportunities AS
SELECT o.golden_a, o.golden_b, o.metro_a, o.metro_b, o.score, o.shared_topics, o.shared_networks,
       o.complementary, public_text(o.reasons) AS reasons, o.rank_in_pair
FROM opportunities o
WHERE o.golden_a IN (SELECT golden_id FROM public_organisations)
  AND o.golden_b IN (SELECT golden_id FROM public_organisations);

-- requires: metropolis_opportunities
CREATE OR REPLACE VIEW public_metropolis_opportunities AS
SELECT metro_a, metro_b, opportunities, top_score, top_topics
FROM metropolis_opportunities;
