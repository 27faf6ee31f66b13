"""Data contracts (pandera) for the staged tables, one module per source.

`core` holds what every source must deliver to reach the warehouse; a source module (named by the
source's `contract` in the configuration) refines those contracts with the source's own rules and
exports CONTRACTS = {table: model} and, optionally, PARENTS = {table: [(column, parent table, parent
column)]}: rows whose parent was quarantined are quarantined too.

Validation is lazy: every failing value goes to the `quarantine` table with its column, check and value;
rows that pass are loaded.  Contracts coerce types (a bad date or number fails coercion and is caught).
A bad value in a nullable field outside the table's `identity` (Config metadata, see core.identity) is
emptied and its record loads (action field_nulled); any other failure holds the record back (row_held).
"""
