-- The configured metropolises and the geography that places addresses in them (baltetl.geo.build_geography:
-- it reads the reference files into the TEMP tables lau and nuts_history, runs this file, then writes the rows
-- it works out from the configuration).

-- The LAU table's country codes as ISO 3166 (Eurostat writes EL and UK).
CREATE OR REPLACE TEMP MACRO iso_country(country) AS CASE country WHEN 'EL' THEN 'GR' WHEN 'UK' THEN 'GB' ELSE country END;

-- One row per configured metropolis, with its functional urban area (FUA) and the NUTS3 codes it covers.
CREATE OR REPLACE TABLE metropolises (metropolis_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL,
    country VARCHAR NOT NULL, fua_id VARCHAR, lau_count INTEGER, fua_population BIGINT, nuts3_codes VARCHAR[]);

-- The NUTS3 regions of each metropolis and why (fua: its FUA holds that share of the region's population;
-- nuts_history: the same region under another NUTS revision; config: configured).
CREATE OR REPLACE TABLE metropolis_nuts3 (metropolis_id VARCHAR NOT NULL, nuts3 VARCHAR NOT NULL,
    reason VARCHAR NOT NULL, fua_population_share DOUBLE, PRIMARY KEY (metropolis_id, nuts3));

-- Place names of each metropolis: its municipalities (LAU names), configured municipalities and aliases.
CREATE OR REPLACE TABLE metropolis_places (metropolis_id VARCHAR NOT NULL, country VARCHAR NOT NULL,
    name_norm VARCHAR NOT NULL, name VARCHAR NOT NULL, kind VARCHAR NOT NULL, lau_code VARCHAR,
    nuts3_codes VARCHAR[]);

-- Every NUTS3 code the reference tables know (any revision): a place-name match is not taken when the record
-- carries a known NUTS3 code other than the municipality's own (two places of one name).
CREATE OR REPLACE TABLE nuts3_known AS
SELECT DISTINCT code AS nuts3 FROM (SELECT unnest([*COLUMNS('^code_\d{4}$')]) AS code FROM nuts_history)
WHERE length(code) = 5
UNION SELECT DISTINCT code_2016 FROM lau WHERE length(code_2016) = 5;

-- Every municipality (LAU) of the reference table: its name, NUTS3 region (2016), FUA and population.
CREATE OR REPLACE TABLE lau_ref AS
SELECT iso_country(country) AS country, lau_code, any_value(lau_name_national) AS lau_name,
       any_value(code_2016) AS nuts3, any_value(fua_id) AS fua_id, max(TRY_CAST(population AS DOUBLE)) AS population
FROM lau GROUP BY 1, 2;
