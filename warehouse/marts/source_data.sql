-- Each source's data date and whether its data is only an illustrative sample (baltetl.sourcedates fills it;
-- shown_organisations and public_sources read it).
CREATE OR REPLACE TABLE source_data (source VARCHAR PRIMARY KEY, data_date VARCHAR, data_date_basis VARCHAR,
                                     illustrative BOOLEAN NOT NULL);
