-- Topic relevance (baltetl.topics.match_projects): the configured topic profile and each match of a visible
-- project to a topic, with its reason.  The profile's rows and the keyword matches are written by Python
-- (the phrases are configuration); marts/project_topics.sql sums them up.
CREATE OR REPLACE TEMP VIEW visible_projects AS SELECT * FROM projects WHERE NOT coalesce(hidden, false);

CREATE OR REPLACE TABLE topic_profile (
    topic VARCHAR, label VARCHAR, kind VARCHAR, term VARCHAR, term_norm VARCHAR);

CREATE OR REPLACE TABLE project_topic_matches (
    project_key VARCHAR NOT NULL, topic VARCHAR NOT NULL, kind VARCHAR NOT NULL, reason VARCHAR NOT NULL);
