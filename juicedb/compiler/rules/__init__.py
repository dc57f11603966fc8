"""Compiler rewrite rules, one pure function per module (run in order from ``RULES``)."""
