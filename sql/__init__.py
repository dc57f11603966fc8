"""SQL that is data: schema DDL and macros (package data)."""
