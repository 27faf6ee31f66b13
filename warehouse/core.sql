-- Place every organisation and participation in a metropolis, by (first rule that matches):
--   nuts3         its NUTS3 code is one of the metropolis' (any NUTS revision)
--   lau           its city is a municipality (LAU) of the metropolis' FUA, same country, and its NUTS3 code
--                 (if it has a known one) is that municipality's
--   municipality  its city is a municipality named in the configuration (Norway, Russia)
--   city_alias    its city is a configured spelling, whole or as first words ('KOBENHAVN K')
-- city_norm is the upper-case ASCII form of the city, computed when the data was staged.

CREATE TEMP TABLE addresses AS
    SELECT DISTINCT country, city_norm, nuts3 FROM stg_participations
    UNION
    SELECT DISTINCT country, city_norm, nuts3 FROM stg_organisations;

CREATE TABLE address_metropolis AS
WITH candidates AS (
    SELECT a.country, a.city_norm, a.nuts3, n.metropolis_id, 'nuts3' AS assigned_by, a.nuts3 AS assigned_from, 1 AS rank
    FROM addresses a JOIN metropolis_nuts3 n ON a.nuts3 = n.nuts3
    UNION ALL
    SELECT a.country, a.city_norm, a.nuts3, p.metropolis_id, p.kind, p.name, 2
    FROM addresses a JOIN metropolis_places p
      ON a.country = p.country AND a.city_norm = p.name_norm AND p.kind IN ('lau', 'municipality')
    -- a municipality name from Eurostat's table must not contradict a known NUTS3 code (Hagen in the Ruhr
    -- is not the Hagen near Hamburg); configured names are taken as written
    WHERE p.kind = 'municipality' OR a.nuts3 IS NULL OR list_contains(p.nuts3_codes, a.nuts3)
       OR a.nuts3 NOT IN (SELECT nuts3 FROM nuts3_known)
    UNION ALL
    SELECT a.country, a.city_norm, a.nuts3, p.metropolis_id, 'city_alias', p.name, 3
    FROM addresses a JOIN metropolis_places p
      ON a.country = p.country AND p.kind = 'alias'
     AND (a.city_norm = p.name_norm OR starts_with(a.city_norm, p.name_norm || ' '))
)
SELECT country, city_norm, nuts3,
       first(metropolis_id ORDER BY rank, metropolis_id) AS metropolis_id,
       first(assigned_by ORDER BY rank, metropolis_id) AS assigned_by,
       first(assigned_from ORDER BY rank, metropolis_id) AS assigned_from
FROM candidates
GROUP BY ALL;

INSERT INTO projects BY NAME
SELECT * FROM stg_projects;

INSERT INTO organisations BY NAME
SELECT s.* EXCLUDE (city_norm), am.metropolis_id, am.assigned_by, am.assigned_from
FROM stg_organisations s
LEFT JOIN address_metropolis am
  ON am.country IS NOT DISTINCT FROM s.country
 AND am.city_norm IS NOT DISTINCT FROM s.city_norm
 AND am.nuts3 IS NOT DISTINCT FROM s.nuts3;

INSERT INTO participations BY NAME
SELECT s.* EXCLUDE (city_norm), am.metropolis_id, am.assigned_by, am.assigned_from
FROM stg_participations s
LEFT JOIN address_metropolis am
  ON am.country IS NOT DISTINCT FROM s.country
 AND am.city_norm IS NOT DISTINCT FROM s.city_norm
 AND am.nuts3 IS NOT DISTINCT FROM s.nuts3;

INSERT INTO network_memberships BY NAME
SELECT * FROM stg_network_memberships;

DROP TABLE addresses;
