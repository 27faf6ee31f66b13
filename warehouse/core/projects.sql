-- The projects, as staged (no placement: their partners are placed in core/from_staging.sql).  Run on a cursor
-- of its own beside the placement (baltetl.warehouse.build): a table of a few row groups keeps one core busy.

INSERT INTO projects BY NAME
SELECT * FROM stg_projects;
