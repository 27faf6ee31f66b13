-- The opportunities as the learned model ranks them (baltetl.opportunities.rank, after marts/opportunities.sql when
-- a model is saved): replaces opportunities and metropolis_opportunities from the frames it registers:
-- learned_frame (the pairs kept, scored), roles_of (each organisation's role) and candidate_counts (per pair
-- of metropolises, the candidates scored).

CREATE OR REPLACE TABLE opportunities AS
SELECT f.golden_a, f.golden_b, f.metro_a, f.metro_b, f.score::DOUBLE AS score,
       CASE WHEN f.shared_topics = '' THEN [] ELSE string_split(f.shared_topics, chr(31)) END::VARCHAR[] AS shared_topics,
       CASE WHEN f.shared_networks = '' THEN [] ELSE string_split(f.shared_networks, chr(31)) END::VARCHAR[] AS shared_networks,
       nullif(f.complementary, '')::VARCHAR AS complementary, f.reasons::VARCHAR AS reasons, f.rank_in_pair::INTEGER AS rank_in_pair,
       row_number() OVER (PARTITION BY f.golden_a ORDER BY f.score DESC, f.golden_b)::INTEGER AS rank_for_a,
       row_number() OVER (PARTITION BY f.golden_b ORDER BY f.score DESC, f.golden_a)::INTEGER AS rank_for_b,
       NULL::DOUBLE AS topic_score, NULL::DOUBLE AS network_score, NULL::DOUBLE AS complementary_score,
       ga.name AS name_a, gb.name AS name_b,
       NULL::VARCHAR AS role_a, NULL::VARCHAR AS role_b
FROM learned_frame f
JOIN golden_organisations ga ON ga.golden_id = f.golden_a
JOIN golden_organisations gb ON gb.golden_id = f.golden_b
ORDER BY f.metro_a, f.metro_b, f.rank_in_pair;

UPDATE opportunities o SET role_a = ra.role, role_b = rb.role FROM roles_of ra, roles_of rb
WHERE ra.golden_id = o.golden_a AND rb.golden_id = o.golden_b;

CREATE OR REPLACE TABLE metropolis_opportunities AS
WITH tc AS (
    SELECT metro_a, metro_b, list(topic ORDER BY n DESC, topic) AS top_topics
    FROM (SELECT metro_a, metro_b, t.topic, count(*) AS n
          FROM opportunities, unnest(shared_topics) AS t(topic) GROUP BY ALL)
    GROUP BY ALL)
SELECT o.metro_a, o.metro_b, count(*)::BIGINT AS opportunities, max(o.score)::DOUBLE AS top_score,
       coalesce(any_value(tc.top_topics), [])::VARCHAR[] AS top_topics,
       any_value(c.candidates)::BIGINT AS candidates,
       (count(DISTINCT o.golden_a) + count(DISTINCT o.golden_b))::BIGINT AS organisations,
       coalesce(any_value(l.ongoing_projects), 0)::BIGINT AS ongoing_projects
FROM opportunities o
LEFT JOIN tc USING (metro_a, metro_b)
LEFT JOIN candidate_counts c USING (metro_a, metro_b)
LEFT JOIN metropolis_links l USING (metro_a, metro_b)
GROUP BY o.metro_a, o.metro_b
ORDER BY o.metro_a, o.metro_b;
