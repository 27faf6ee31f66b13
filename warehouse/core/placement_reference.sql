-- The reference tables the placement (core/placement.sql) reads, made by baltetl.placement.load_reference once
-- it has read the LAU names (TEMP lau_names), the postcode lists (TEMP postcode_raw) and the configured
-- municipalities (TEMP metro_cfg), and set the variables postcode_min_share, postcode_min_prefix and
-- postcode_prefix_min_codes ([geo] of the configuration).

-- Each metropolis' municipalities: its FUA, configured whole NUTS3 regions, configured LAU codes, and
-- configured municipality names (Norway: names of the postcode list, not in the LAU table).
CREATE OR REPLACE TABLE metropolis_laus AS
SELECT DISTINCT m.metropolis_id, l.country, l.lau_code, 'fua' AS reason
FROM metropolises m JOIN lau_ref l ON l.fua_id = m.fua_id
UNION
SELECT DISTINCT c.metropolis_id, l.country, l.lau_code, 'nuts3_config'
FROM metro_cfg c JOIN lau_ref l ON l.nuts3 = c.value AND c.kind = 'nuts3'
UNION
SELECT DISTINCT c.metropolis_id, c.country, c.value, 'config' FROM metro_cfg c WHERE kind = 'config'
UNION
SELECT DISTINCT c.metropolis_id, c.country, n.lau_code, 'municipality_name'
FROM metro_cfg c JOIN lau_names n ON n.country = c.country AND n.name_norm = c.value
WHERE c.kind = 'municipality_name';

-- postcode -> municipality -> metropolis ('' = in none)
CREATE OR REPLACE TABLE postcode_lau AS
SELECT p.country, p.postcode, p.lau_code, p.lau_name, coalesce(p.weight, 1) AS weight, p.list,
       coalesce(any_value(m.metropolis_id), '') AS outcome
FROM postcode_raw p LEFT JOIN metropolis_laus m ON m.country = p.country AND m.lau_code = p.lau_code
WHERE p.postcode IS NOT NULL GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE postcode_names AS
SELECT DISTINCT p.country, p.postcode, p.lau_code, n.name_norm FROM postcode_lau p
JOIN lau_names n ON n.country = p.country AND n.lau_code = p.lau_code;

CREATE OR REPLACE TABLE placement_settings AS SELECT getvariable('postcode_min_share')::DOUBLE AS postcode_min_share;

-- postcode prefixes of at least postcode_min_prefix characters that postcode_prefix_min_codes postcodes share;
-- decided (outcome not NULL) when they all agree
CREATE OR REPLACE TABLE postcode_prefixes AS
WITH p AS (SELECT country, postcode, postcode[1:n] AS prefix, outcome
           FROM postcode_lau, range(getvariable('postcode_min_prefix'), 12) t(n) WHERE n < length(postcode))
SELECT country, prefix, CASE WHEN count(DISTINCT outcome) = 1 THEN any_value(outcome) END AS outcome,
       count(DISTINCT postcode) AS postcodes
FROM p GROUP BY 1, 2 HAVING count(DISTINCT postcode) >= getvariable('postcode_prefix_min_codes');

CREATE OR REPLACE TABLE postcode_lengths AS
SELECT country, mode(length(postcode)) AS len FROM postcode_lau GROUP BY 1;

-- NUTS codes of every revision -> NUTS 2016 (the LAU table's), when the history says so unambiguously
CREATE OR REPLACE TABLE nuts_recode AS
WITH h AS (SELECT unnest([*COLUMNS('^code_\d{4}$')]) AS code, code_2016 FROM nuts_history WHERE code_2016 IS NOT NULL)
SELECT code, CASE WHEN count(DISTINCT code_2016) = 1 THEN any_value(code_2016) END AS code_2016
FROM h WHERE length(code) = 5 GROUP BY 1
UNION ALL
SELECT DISTINCT nuts3, nuts3 FROM lau_ref WHERE length(nuts3) = 5
  AND nuts3 NOT IN (SELECT code FROM h WHERE length(code) = 5);

-- a NUTS3 region wholly inside one metropolis, or wholly outside all; configured codes as written
CREATE OR REPLACE TABLE nuts3_placement AS
WITH r AS (SELECT l.nuts3, count(*) AS laus, count(m.metropolis_id) AS inside,
                  count(DISTINCT m.metropolis_id) AS metros, any_value(m.metropolis_id) AS metro
           FROM lau_ref l LEFT JOIN metropolis_laus m USING (country, lau_code)
           WHERE length(l.nuts3) = 5 GROUP BY 1),
     whole AS (SELECT nuts3, CASE WHEN inside = 0 THEN '' ELSE metro END AS outcome,
                      CASE WHEN inside = 0 THEN 'outside' ELSE 'inside' END AS reason
               FROM r WHERE inside = 0 OR (inside = laus AND metros = 1)),
     coded AS (SELECT c.code AS nuts3, w.outcome, w.reason, c.code_2016
               FROM nuts_recode c JOIN whole w ON w.nuts3 = c.code_2016),
     config AS (SELECT DISTINCT value AS nuts3, metropolis_id AS outcome, 'config' AS reason, NULL AS code_2016
                FROM metro_cfg WHERE kind = 'nuts3')
SELECT * FROM config
UNION ALL SELECT * FROM coded WHERE nuts3 NOT IN (SELECT nuts3 FROM config);
