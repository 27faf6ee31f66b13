-- After the keyword matches (baltetl.topics.match_projects): the matches by code (euroSciVoc, call topic,
-- priority, programme), then per visible project whether it is relevant, to which topics and why.
INSERT INTO project_topic_matches
WITH codes AS (SELECT project_key, trim(unnest(string_split(euroscivoc, ';'))) AS code
               FROM visible_projects WHERE euroscivoc IS NOT NULL),
     items AS (SELECT project_key, trim(unnest(string_split(topics, ';'))) AS item
               FROM visible_projects WHERE topics IS NOT NULL)
SELECT DISTINCT c.project_key, tp.topic, 'euroscivoc', 'euroscivoc:' || c.code
FROM codes c JOIN topic_profile tp ON tp.kind = 'euroscivoc'
 AND (c.code = tp.term OR starts_with(c.code, rtrim(tp.term, '/') || '/'))
UNION ALL
SELECT DISTINCT i.project_key, tp.topic, 'call', 'call:' || i.item
FROM items i JOIN topic_profile tp ON tp.kind = 'call' AND i.item GLOB tp.term
UNION ALL
SELECT DISTINCT i.project_key, tp.topic, 'priority', 'priority:' || i.item
FROM items i JOIN topic_profile tp ON tp.kind = 'priority' AND lower(i.item) = lower(tp.term)
UNION ALL
SELECT DISTINCT p.project_key, tp.topic, 'programme', 'programme:' || p.programme
FROM visible_projects p JOIN topic_profile tp ON tp.kind = 'programme'
 AND contains(lower(p.programme), lower(tp.term));

CREATE OR REPLACE TABLE project_topics AS
SELECT p.project_key,
       count(m.topic) > 0 AS relevant,
       coalesce(list(DISTINCT m.topic ORDER BY m.topic) FILTER (WHERE m.topic IS NOT NULL), [])::VARCHAR[] AS topics,
       coalesce(list(DISTINCT m.reason ORDER BY m.reason) FILTER (WHERE m.reason IS NOT NULL), [])::VARCHAR[] AS reasons
FROM visible_projects p
LEFT JOIN project_topic_matches m USING (project_key)
GROUP BY p.project_key;
