"""Data contracts (pandera) for the staged tables, one module per source.

`core` holds what every source must deliver to reach the warehouse; a source module (named by the
source's `contract` in the configuration) refines those contracts with the source's own rules and
exports CONTRACTS = {table: model} and, optionally, PARENTS = {table: [(column, parent table, parent
column)]}: rows whose parent was quarantined are quarantined too.

Validation is lazy: every failing row goes to the `quarantine` table with its column, check and value;
rows that pass are loaded.  Contracts coerce types (a bad date or number fails coercion and is caught).
"""
