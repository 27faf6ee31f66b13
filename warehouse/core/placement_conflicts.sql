-- In a build (baltetl.placement.place_staged), after core/placement.sql: how many staged participations each
-- placement conflict touches.
CREATE OR REPLACE TABLE placement_conflicts AS
SELECT c.*, coalesce(n.participations, 0) AS participations
FROM placement_conflicts c LEFT JOIN (
    SELECT country, post_code, city_norm, nuts3, count(*) AS participations FROM stg_participations GROUP BY ALL) n
  ON n.country IS NOT DISTINCT FROM c.country AND n.post_code IS NOT DISTINCT FROM c.post_code
 AND n.city_norm IS NOT DISTINCT FROM c.city_norm AND n.nuts3 IS NOT DISTINCT FROM c.nuts3;
