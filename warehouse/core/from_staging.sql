-- Place every organisation and participation in a metropolis, by its address: postcode -> municipality
-- (LAU) -> functional urban area, then NUTS3 where the region is wholly inside or outside, then city names
-- (rules in src/baltetl/placement.py; the SQL in core/placement.sql).
-- city_norm is the upper-case ASCII form of the city, computed when the data was staged.

-- address_metropolis: one row per distinct (country, post_code, city_norm, nuts3), made by core/placement.sql
-- (placement.place_staged) just before this file.

INSERT INTO projects BY NAME
SELECT * FROM stg_projects;

-- a staged table's rows with the metropolis their address is placed in
CREATE OR REPLACE TEMP MACRO placed(staged) AS TABLE
SELECT s.* EXCLUDE (city_norm), am.metropolis_id, am.assigned_by, am.assigned_from
FROM query_table(staged) s
LEFT JOIN address_metropolis am
  ON am.country IS NOT DISTINCT FROM s.country
 AND am.post_code IS NOT DISTINCT FROM s.post_code
 AND am.city_norm IS NOT DISTINCT FROM s.city_norm
 AND am.nuts3 IS NOT DISTINCT FROM s.nuts3;

INSERT INTO organisations BY NAME SELECT * FROM placed('stg_organisations');

INSERT INTO participations BY NAME SELECT * FROM placed('stg_participations');

INSERT INTO network_memberships BY NAME
SELECT * FROM stg_network_memberships;

DROP TABLE addresses;
DROP MACRO TABLE placed;

