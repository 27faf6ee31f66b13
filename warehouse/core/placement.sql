-- Place each distinct address (TEMP table addresses: country, post_code, city_norm, nuts3, pc) in a
-- metropolis; the rules and their order are in src/baltetl/placement.py.  Each rule gives an outcome:
-- a metropolis id, '' (in none: decided) or NULL (the rule cannot tell).

CREATE OR REPLACE TEMP TABLE addr AS
SELECT a.*, coalesce(k1.postcode, k2.postcode) AS pc_key
FROM addresses a
LEFT JOIN (SELECT DISTINCT country, postcode FROM postcode_lau) k1 ON k1.country = a.country AND k1.postcode = a.pc
-- a lost leading zero: 1108 for LT 01108
LEFT JOIN postcode_lengths n ON n.country = a.country AND length(a.pc) = n.len - 1 AND regexp_matches(a.pc, '^[0-9]+$')
LEFT JOIN (SELECT DISTINCT country, postcode FROM postcode_lau) k2
       ON k1.postcode IS NULL AND n.len IS NOT NULL AND k2.country = a.country AND k2.postcode = '0' || a.pc;

-- postcode: the municipality the city names, else the heaviest outcome
CREATE OR REPLACE TEMP TABLE by_postcode AS
WITH o AS (
    SELECT a.country, a.post_code, a.city_norm, a.nuts3, p.outcome, sum(p.weight) AS w,
           bool_or(a.city_norm IS NOT NULL AND (nm.name_norm = a.city_norm OR starts_with(a.city_norm, nm.name_norm || ' '))) AS named,
           first(p.lau_code || ' ' || coalesce(p.lau_name, '') ORDER BY p.weight DESC) AS lau
    FROM addr a
    JOIN postcode_lau p ON p.country = a.country AND p.postcode = a.pc_key
    LEFT JOIN postcode_names nm ON nm.country = p.country AND nm.postcode = p.postcode AND nm.lau_code = p.lau_code
    GROUP BY ALL
)
SELECT country, post_code, city_norm, nuts3,
       -- municipalities in and out of metropolises: the one the city names, else a clear majority, else undecided
       CASE WHEN count(*) = 1 OR bool_or(named) OR max(w) >= (SELECT postcode_min_share FROM placement_settings) * sum(w)
            THEN first(outcome ORDER BY named DESC, w DESC, outcome) END AS outcome,
       first(lau ORDER BY named DESC, w DESC, outcome) AS lau
FROM o GROUP BY ALL;

-- postcode_prefix: the longest prefix the list knows, decided when its postcodes agree; only for a postcode of
-- the country's form (not a Brussels '1000' under SE)
CREATE OR REPLACE TEMP TABLE by_prefix AS
WITH c AS (
    SELECT a.country, a.post_code, a.city_norm, a.nuts3, a.pc[1:k] AS prefix
    FROM addr a JOIN postcode_lengths n ON n.country = a.country AND n.len = length(a.pc), range(1, 12) t(k)
    WHERE a.pc_key IS NULL AND k < length(a.pc)
)
SELECT c.country, c.post_code, c.city_norm, c.nuts3,
       first(p.outcome ORDER BY length(p.prefix) DESC) AS outcome,
       first(p.prefix ORDER BY length(p.prefix) DESC) AS prefix
FROM c JOIN postcode_prefixes p ON p.country = c.country AND p.prefix = c.prefix
GROUP BY ALL;

-- names: a municipality of the metropolis (not against a known NUTS3 code), a configured name or alias
CREATE OR REPLACE TEMP TABLE by_name AS
WITH candidates AS (
    SELECT a.country, a.post_code, a.city_norm, a.nuts3, p.metropolis_id, p.kind AS rule, p.name, 2 AS rank
    FROM addr a JOIN metropolis_places p
      ON a.country = p.country AND a.city_norm = p.name_norm AND p.kind IN ('lau', 'municipality')
    WHERE p.kind = 'municipality' OR a.nuts3 IS NULL OR list_contains(p.nuts3_codes, a.nuts3)
       OR a.nuts3 NOT IN (SELECT nuts3 FROM nuts3_known)
    UNION ALL
    SELECT a.country, a.post_code, a.city_norm, a.nuts3, p.metropolis_id, 'city_alias', p.name, 3
    FROM addr a JOIN metropolis_places p
      ON a.country = p.country AND p.kind = 'alias'
     AND (a.city_norm = p.name_norm OR starts_with(a.city_norm, p.name_norm || ' '))
)
SELECT country, post_code, city_norm, nuts3,
       first(metropolis_id ORDER BY rank, metropolis_id) AS outcome,
       first(rule ORDER BY rank, metropolis_id) AS rule,
       first(name ORDER BY rank, metropolis_id) AS name
FROM candidates GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE placed AS
SELECT a.country, a.post_code, a.city_norm, a.nuts3,
       pc.outcome AS pc_outcome, pc.lau, pf.outcome AS pf_outcome, pf.prefix,
       n3.outcome AS n3_outcome, rc.code_2016 AS nuts3_2016, nm.outcome AS nm_outcome, nm.rule AS nm_rule, nm.name AS nm_name
FROM addr a
LEFT JOIN by_postcode pc ON pc.country IS NOT DISTINCT FROM a.country AND pc.post_code IS NOT DISTINCT FROM a.post_code
     AND pc.city_norm IS NOT DISTINCT FROM a.city_norm AND pc.nuts3 IS NOT DISTINCT FROM a.nuts3
LEFT JOIN by_prefix pf ON pf.country IS NOT DISTINCT FROM a.country AND pf.post_code IS NOT DISTINCT FROM a.post_code
     AND pf.city_norm IS NOT DISTINCT FROM a.city_norm AND pf.nuts3 IS NOT DISTINCT FROM a.nuts3
LEFT JOIN nuts3_placement n3 ON n3.nuts3 = a.nuts3
LEFT JOIN nuts_recode rc ON rc.code = a.nuts3
LEFT JOIN by_name nm ON nm.country IS NOT DISTINCT FROM a.country AND nm.post_code IS NOT DISTINCT FROM a.post_code
     AND nm.city_norm IS NOT DISTINCT FROM a.city_norm AND nm.nuts3 IS NOT DISTINCT FROM a.nuts3;

CREATE OR REPLACE TABLE address_metropolis AS
WITH d AS (
    SELECT *,
           CASE WHEN pc_outcome IS NOT NULL THEN 'postcode' WHEN pf_outcome IS NOT NULL THEN 'postcode_prefix'
                WHEN n3_outcome IS NOT NULL THEN 'nuts3' WHEN nm_outcome IS NOT NULL THEN nm_rule END AS rule,
           coalesce(pc_outcome, pf_outcome, n3_outcome, nm_outcome) AS outcome
    FROM placed
)
SELECT country, post_code, city_norm, nuts3, nullif(outcome, '') AS metropolis_id,
       CASE WHEN outcome <> '' THEN rule END AS assigned_by,
       CASE WHEN outcome = '' THEN NULL
            WHEN rule = 'postcode' THEN post_code || ' -> ' || lau
            WHEN rule = 'postcode_prefix' THEN post_code || ' -> ' || prefix || '*'
            WHEN rule = 'nuts3' THEN CASE WHEN nuts3_2016 IS NOT NULL AND nuts3_2016 <> nuts3 THEN nuts3 || ' -> ' || nuts3_2016 ELSE nuts3 END
            ELSE nm_name END AS assigned_from,
       rule AS decided_by, nuts3_2016, pc_outcome, pf_outcome, n3_outcome, nm_outcome, nm_rule
FROM d;

-- the rules that disagree with the one that decided (NULL = the rule could not tell)
CREATE OR REPLACE TABLE placement_conflicts AS
WITH o AS (
    SELECT *, unnest([
        {'rule': 'postcode', 'outcome': pc_outcome}, {'rule': 'postcode_prefix', 'outcome': pf_outcome},
        {'rule': 'nuts3', 'outcome': n3_outcome}, {'rule': coalesce(nm_rule, 'name'), 'outcome': nm_outcome}]) AS other
    FROM address_metropolis WHERE decided_by IS NOT NULL
)
SELECT country, post_code, city_norm, nuts3, metropolis_id, decided_by, assigned_from,
       other.rule AS other_rule, nullif(other.outcome, '') AS other_metropolis_id
FROM o
WHERE other.rule <> decided_by AND other.outcome IS NOT NULL
  AND other.outcome IS DISTINCT FROM coalesce(metropolis_id, '');

DROP TABLE addr;
DROP TABLE by_postcode;
DROP TABLE by_prefix;
DROP TABLE by_name;
DROP TABLE placed;
