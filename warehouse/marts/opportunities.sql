-- Co-operation marts: organisation topic profiles, existing links between metropolises, opportunities.
-- Run by baltetl.topics.build after marts/views.sql, once it has matched the projects (project_topics,
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

-- Opportunities.  Candidates: visible organisations placed in a metropolis with a topic profile; a pair is
-- two of them in different metropolises sharing a topic (the join is blocked on the topic) that share no
-- visible project, ever.
CREATE OR REPLACE TEMP TABLE cand_orgs AS
SELECT g.golden_id, g.metropolis_id, g.name, coalesce(r1.role, r2.role) AS role,
       coalesce(n.networks, [])::VARCHAR[] AS networks
FROM golden_organisations g
LEFT JOIN org_roles r1 ON r1.type_lower = lower(g.activity_type)
LEFT JOIN org_roles r2 ON r2.type_lower = lower(g.org_type)
LEFT JOIN (SELECT golden_id, list(network ORDER BY network) AS networks FROM org_networks GROUP BY 1) n
       ON n.golden_id = g.golden_id
WHERE NOT coalesce(g.hidden, false) AND g.metropolis_id IS NOT NULL
  AND g.golden_id IN (SELECT golden_id FROM organisation_topics);

CREATE OR REPLACE TEMP TABLE cand_topics AS
SELECT c.golden_id, c.metropolis_id, t.topic, t.evidence,
       t.weight / (t.weight + getvariable('opp_topic_half')) AS strength
FROM cand_orgs c JOIN organisation_topics t USING (golden_id);

CREATE OR REPLACE TEMP TABLE shared_project_pairs AS
WITH op AS (SELECT DISTINCT golden_id, project_key FROM org_projects
            WHERE golden_id IN (SELECT golden_id FROM cand_orgs))
SELECT DISTINCT a.golden_id AS golden_a, b.golden_id AS golden_b
FROM op a JOIN op b ON a.project_key = b.project_key AND a.golden_id <> b.golden_id;

-- Shared networks of candidate pairs (members are mostly city administrations: a small join).
CREATE OR REPLACE TEMP TABLE network_pairs AS
WITH n AS (SELECT n.golden_id, n.metropolis_id, n.network
           FROM (SELECT c.golden_id, c.metropolis_id, unnest(c.networks) AS network FROM cand_orgs c) n)
SELECT a.golden_id AS golden_a, b.golden_id AS golden_b, count(*) AS shared
FROM n a JOIN n b ON a.network = b.network AND a.metropolis_id < b.metropolis_id
GROUP BY ALL;

-- Every candidate pair with its score.  The topic part is summed here; which topics, in words, only for
-- the pairs kept (below).
CREATE OR REPLACE TEMP TABLE opp_scored AS
WITH shared AS (
    SELECT a.golden_id AS golden_a, b.golden_id AS golden_b, a.metropolis_id AS metro_a, b.metropolis_id AS metro_b,
           sum(least(a.strength, b.strength)) AS topic_sum
    FROM cand_topics a
    JOIN cand_topics b ON a.topic = b.topic AND a.metropolis_id < b.metropolis_id
    GROUP BY ALL
), parts AS (
    SELECT s.golden_a, s.golden_b, s.metro_a, s.metro_b,
           round(getvariable('opp_topic_weight') * s.topic_sum, 3) AS topic_score,
           round(getvariable('opp_network_weight') * least(coalesce(np.shared, 0), getvariable('opp_network_cap')), 3) AS network_score,
           CASE WHEN ca.role <> cb.role AND ca.role <> 'other' AND cb.role <> 'other'
                THEN ca.role || ' + ' || cb.role END AS complementary
    FROM shared s
    JOIN cand_orgs ca ON ca.golden_id = s.golden_a
    JOIN cand_orgs cb ON cb.golden_id = s.golden_b
    LEFT JOIN network_pairs np ON np.golden_a = s.golden_a AND np.golden_b = s.golden_b
    ANTI JOIN shared_project_pairs x ON x.golden_a = s.golden_a AND x.golden_b = s.golden_b
)
SELECT *, CASE WHEN complementary IS NOT NULL THEN round(getvariable('opp_complementary_weight'), 3) ELSE 0 END AS complementary_score,
       round(topic_score + network_score + complementary_score, 3) AS score
FROM parts;

-- Bounded: an organisation's per_organisation best (over all its pairs, either side; a heap per
-- organisation, no sort of every pair), then at most per_metropolis_pair per pair of metropolises.
CREATE OR REPLACE TEMP TABLE org_best AS
SELECT least(g, other) AS x, greatest(g, other) AS y
FROM (SELECT g, unnest(max_by(other, {'score': score, 'other': other}, getvariable('opp_per_organisation')::BIGINT)) AS other
      FROM (SELECT golden_a AS g, golden_b AS other, score FROM opp_scored
            UNION ALL SELECT golden_b, golden_a, score FROM opp_scored)
      GROUP BY g)
GROUP BY ALL;

CREATE OR REPLACE TABLE opportunities AS
WITH kept AS (
    SELECT s.*, row_number() OVER (PARTITION BY s.metro_a, s.metro_b ORDER BY s.score DESC, s.golden_a, s.golden_b) AS rank_in_pair
    FROM opp_scored s
    SEMI JOIN org_best b ON b.x = least(s.golden_a, s.golden_b) AND b.y = greatest(s.golden_a, s.golden_b)
    QUALIFY rank_in_pair <= getvariable('opp_per_metropolis_pair')
), details AS (
    SELECT k.golden_a, k.golden_b,
           list({'topic': a.topic, 'label': tp.label, 'evidence_a': a.evidence, 'evidence_b': b.evidence}
                ORDER BY least(a.strength, b.strength) DESC, a.topic) AS topics
    FROM kept k
    JOIN cand_topics a ON a.golden_id = k.golden_a
    JOIN cand_topics b ON b.golden_id = k.golden_b AND b.topic = a.topic
    JOIN (SELECT DISTINCT topic, label FROM topic_profile) tp ON tp.topic = a.topic
    GROUP BY ALL
)
SELECT k.golden_a, k.golden_b, k.metro_a, k.metro_b, k.score::DOUBLE AS score,
       list_transform(d.topics, lambda t: t.topic)::VARCHAR[] AS shared_topics,
       list_sort(list_intersect(ca.networks, cb.networks))::VARCHAR[] AS shared_networks,
       k.complementary,
       'Both work on '
         || array_to_string(list_transform(d.topics, lambda t: t.label || ' (' || ma.name || ': ' || t.evidence_a || '; '
                                                            || mb.name || ': ' || t.evidence_b || ')'), ', ')
         || ': topics +' || printf('%.2f', k.topic_score)
         || CASE WHEN k.network_score > 0
                 THEN '; both members of ' || array_to_string(list_sort(list_intersect(ca.networks, cb.networks)), ', ')
                      || ': networks +' || printf('%.2f', k.network_score)
                 ELSE '' END
         || CASE WHEN k.complementary_score > 0
                 THEN '; complementary roles (' || ma.name || ': ' || ca.role || '; ' || mb.name || ': ' || cb.role || '): +'
                      || printf('%.2f', k.complementary_score)
                 ELSE '' END
         || '; no shared project yet.' AS reasons,
       k.rank_in_pair::INTEGER AS rank_in_pair,
       -- the opportunity's rank among those of the same organisation in this table
       row_number() OVER (PARTITION BY k.golden_a ORDER BY k.score DESC, k.golden_b)::INTEGER AS rank_for_a,
       row_number() OVER (PARTITION BY k.golden_b ORDER BY k.score DESC, k.golden_a)::INTEGER AS rank_for_b,
       k.topic_score::DOUBLE AS topic_score, k.network_score::DOUBLE AS network_score,
       k.complementary_score::DOUBLE AS complementary_score,
       ca.name AS name_a, cb.name AS name_b, ca.role AS role_a, cb.role AS role_b
FROM kept k
JOIN details d USING (golden_a, golden_b)
JOIN cand_orgs ca ON ca.golden_id = k.golden_a
JOIN cand_orgs cb ON cb.golden_id = k.golden_b
JOIN metropolises ma ON ma.metropolis_id = k.metro_a
JOIN metropolises mb ON mb.metropolis_id = k.metro_b
ORDER BY k.metro_a, k.metro_b, k.rank_in_pair;

-- Per pair of metropolises: the opportunities kept, the candidates before bounding, the best score, the
-- topics the opportunities share (most frequent first), and the existing links for comparison.
CREATE OR REPLACE TABLE metropolis_opportunities AS
WITH cands AS (
    SELECT metro_a, metro_b, count(*) AS candidates FROM opp_scored GROUP BY ALL
), tc AS (
    SELECT metro_a, metro_b, list(topic ORDER BY n DESC, topic) AS top_topics
    FROM (SELECT metro_a, metro_b, t.topic, count(*) AS n
          FROM opportunities, unnest(shared_topics) AS t(topic) GROUP BY ALL)
    GROUP BY ALL
)
SELECT o.metro_a, o.metro_b, count(*)::BIGINT AS opportunities, max(o.score)::DOUBLE AS top_score,
       any_value(tc.top_topics)::VARCHAR[] AS top_topics,
       any_value(c.candidates)::BIGINT AS candidates,
       (count(DISTINCT o.golden_a) + count(DISTINCT o.golden_b))::BIGINT AS organisations,
       coalesce(any_value(l.ongoing_projects), 0)::BIGINT AS ongoing_projects
FROM opportunities o
JOIN tc USING (metro_a, metro_b)
JOIN cands c USING (metro_a, metro_b)
LEFT JOIN metropolis_links l USING (metro_a, metro_b)
GROUP BY o.metro_a, o.metro_b
ORDER BY o.metro_a, o.metro_b;

DROP TABLE org_projects;
DROP TABLE org_networks;
DROP TABLE cand_orgs;
DROP TABLE cand_topics;
DROP TABLE shared_project_pairs;
DROP TABLE network_pairs;
DROP TABLE opp_scored;
DROP TABLE org_best;
