-- Co-operation marts, second part: the hand-weighted opportunities (baltetl.topics.build runs it after
-- marts/organisation_topics.sql, whose temp tables org_projects and org_networks it reads, with the variables
-- opp_* and the temp table org_roles; with a learned model the build runs marts/opportunities_learned.sql
-- instead).  Hidden organisations and hidden projects are left out everywhere.

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
