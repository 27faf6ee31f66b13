-- Co-operation marts, first part: organisation topic profiles and existing links between metropolises
-- (marts/opportunities.sql then ranks the opportunities by hand, unless a learned model ranks them).
-- Run by baltetl.topics.build once it has matched the projects (project_topics,
-- project_topic_matches, topic_profile) and set the variables type_weight, network_weight and opp_* (from
-- [topics] and [opportunities]) and the temp table org_roles (type_lower, role).
-- Hidden organisations and hidden projects are left out everywhere ("visible" below).  "Ongoing" is as of
-- the build: end date today or later.

-- Each visible organisation's visible projects, placed where the participation is (else where the organisation is).
CREATE OR REPLACE TEMP TABLE org_projects AS
SELECT DISTINCT os.golden_id, pa.project_key, coalesce(pa.metropolis_id, g.metropolis_id) AS metropolis_id,
       p.end_date >= current_date AS ongoing
FROM participations pa
JOIN organisation_sources os ON os.org_key = pa.org_key
JOIN golden_organisations g ON g.golden_id = os.golden_id AND NOT coalesce(g.hidden, false)
JOIN projects p ON p.project_key = pa.project_key AND NOT coalesce(p.hidden, false);

CREATE OR REPLACE TEMP TABLE org_networks AS
SELECT DISTINCT os.golden_id, nm.network
FROM network_memberships nm
JOIN organisation_sources os ON os.org_key = nm.org_key
JOIN golden_organisations g ON g.golden_id = os.golden_id AND NOT coalesce(g.hidden, false);

-- An organisation's topic profile: its relevant projects per topic, plus type_weight when its type is one of
-- the topic's org_types and network_weight when it belongs to one of the topic's networks.
CREATE OR REPLACE TABLE organisation_topics AS
WITH from_projects AS (
    SELECT op.golden_id, m.topic, count(DISTINCT op.project_key) AS projects,
           count(DISTINCT op.project_key) FILTER (WHERE op.ongoing) AS ongoing_projects
    FROM (SELECT DISTINCT golden_id, project_key, ongoing FROM org_projects) op
    JOIN (SELECT DISTINCT project_key, topic FROM project_topic_matches) m ON m.project_key = op.project_key
    GROUP BY ALL
), from_type AS (
    SELECT g.golden_id, tp.topic, min(tp.term) AS org_type
    FROM golden_organisations g
    JOIN topic_profile tp ON tp.kind = 'org_type'
     AND (lower(g.org_type) = lower(tp.term) OR lower(g.activity_type) = lower(tp.term))
    WHERE NOT coalesce(g.hidden, false)
    GROUP BY ALL
), from_networks AS (
    SELECT n.golden_id, tp.topic, list(DISTINCT n.network ORDER BY n.network) AS networks
    FROM org_networks n
    JOIN topic_profile tp ON tp.kind = 'network' AND lower(n.network) = lower(tp.term)
    GROUP BY ALL
), all_keys AS (
    SELECT golden_id, topic FROM from_projects
    UNION SELECT golden_id, topic FROM from_type
    UNION SELECT golden_id, topic FROM from_networks
)
SELECT k.golden_id, k.topic,
       (coalesce(fp.projects, 0)
        + CASE WHEN ft.org_type IS NOT NULL THEN getvariable('type_weight') ELSE 0 END
        + CASE WHEN fn.networks IS NOT NULL THEN getvariable('network_weight') ELSE 0 END)::DOUBLE AS weight,
       coalesce(fp.projects, 0)::BIGINT AS projects,
       coalesce(fp.ongoing_projects, 0)::BIGINT AS ongoing_projects,
       ft.org_type,
       coalesce(fn.networks, [])::VARCHAR[] AS networks,
       -- what the weight stands for, as the opportunities' reasons quote it
       concat_ws(', ',
           CASE WHEN fp.projects = 1 THEN '1 project' WHEN fp.projects > 1 THEN fp.projects || ' projects' END,
           'type ' || ft.org_type,
           CASE WHEN fn.networks IS NOT NULL THEN 'member of ' || array_to_string(fn.networks, ', ') END) AS evidence
FROM all_keys k
LEFT JOIN from_projects fp USING (golden_id, topic)
LEFT JOIN from_type ft USING (golden_id, topic)
LEFT JOIN from_networks fn USING (golden_id, topic)
WHERE coalesce(fp.projects, 0)
      + CASE WHEN ft.org_type IS NOT NULL THEN getvariable('type_weight') ELSE 0 END
      + CASE WHEN fn.networks IS NOT NULL THEN getvariable('network_weight') ELSE 0 END > 0
ORDER BY k.golden_id, k.topic;

-- Existing co-operation: per pair of metropolises, the ongoing projects with partners in both.
CREATE OR REPLACE TABLE metropolis_links AS
WITH ongoing AS (
    SELECT DISTINCT golden_id, project_key, metropolis_id FROM org_projects
    WHERE ongoing AND metropolis_id IS NOT NULL
), pm AS (
    SELECT DISTINCT project_key, metropolis_id FROM ongoing
), pairs AS (
    SELECT a.metropolis_id AS metro_a, b.metropolis_id AS metro_b, a.project_key
    FROM pm a JOIN pm b ON a.project_key = b.project_key AND a.metropolis_id < b.metropolis_id
), orgs AS (
    SELECT pr.metro_a, pr.metro_b, count(DISTINCT o.golden_id) AS organisations,
           count(DISTINCT o.golden_id) FILTER (WHERE o.metropolis_id = pr.metro_a) AS organisations_a,
           count(DISTINCT o.golden_id) FILTER (WHERE o.metropolis_id = pr.metro_b) AS organisations_b
    FROM pairs pr
    JOIN ongoing o ON o.project_key = pr.project_key AND o.metropolis_id IN (pr.metro_a, pr.metro_b)
    GROUP BY ALL
), topic_lists AS (
    SELECT metro_a, metro_b, list(topic ORDER BY n DESC, topic) AS topics
    FROM (SELECT pr.metro_a, pr.metro_b, t.topic, count(*) AS n
          FROM pairs pr JOIN project_topics pt USING (project_key), unnest(pt.topics) AS t(topic)
          GROUP BY ALL)
    GROUP BY ALL
)
SELECT pr.metro_a, pr.metro_b,
       count(*)::BIGINT AS ongoing_projects,
       count(*) FILTER (WHERE pt.relevant)::BIGINT AS related_projects,
       any_value(o.organisations)::BIGINT AS organisations,
       any_value(o.organisations_a)::BIGINT AS organisations_a,
       any_value(o.organisations_b)::BIGINT AS organisations_b,
       list(pr.project_key ORDER BY pr.project_key) AS project_keys,
       coalesce(list(pr.project_key ORDER BY pr.project_key) FILTER (WHERE pt.relevant), [])::VARCHAR[] AS related_project_keys,
       coalesce(any_value(tl.topics), [])::VARCHAR[] AS topics
FROM pairs pr
JOIN project_topics pt USING (project_key)
JOIN orgs o USING (metro_a, metro_b)
LEFT JOIN topic_lists tl USING (metro_a, metro_b)
GROUP BY pr.metro_a, pr.metro_b
ORDER BY pr.metro_a, pr.metro_b;
