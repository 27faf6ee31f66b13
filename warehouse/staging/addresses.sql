-- The distinct addresses of the staged participations and organisations: what core/placement.sql places.
-- pc is the postcode as the reference lists key it (the macro norm_postcode is defined by
-- baltetl.placement.place_staged from norm_pc_sql, the SQL form of geo.norm_postcode).
CREATE OR REPLACE TEMP TABLE addresses AS
SELECT *, norm_postcode(post_code, country) AS pc FROM (
    SELECT DISTINCT country, post_code, city_norm, nuts3 FROM stg_participations
    UNION SELECT DISTINCT country, post_code, city_norm, nuts3 FROM stg_organisations);
