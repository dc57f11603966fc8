-- juicedb workspace schema. Every table here is queryable in `juicedb shell`.

-- Datasets loaded by dataset('path'): one table ds_<name> each, with a stable uid per sample.
CREATE TABLE IF NOT EXISTS datasets (
    name       VARCHAR PRIMARY KEY,  -- table holding the samples
    path       VARCHAR NOT NULL,     -- absolute path of the file
    format     VARCHAR NOT NULL,     -- jsonl | parquet | csv
    options    VARCHAR,              -- load options as JSON (text_key, ...)
    size       BIGINT,
    mtime_ns   BIGINT,
    rows       BIGINT,
    errors     BIGINT,
    loaded_at  TIMESTAMP DEFAULT current_timestamp
);

-- Row-level failures: a bad line on load, an operator failing on one sample.
CREATE TABLE IF NOT EXISTS errors (
    run_id   VARCHAR,                -- NULL for a load outside a run
    dataset  VARCHAR,
    uid      BIGINT,
    line     BIGINT,                 -- line number in the source file, for load errors
    op       VARCHAR NOT NULL,       -- 'load' or the operator name
    message  VARCHAR NOT NULL,
    raw      VARCHAR,                -- the offending line (first 2000 chars)
    logged_at TIMESTAMP DEFAULT current_timestamp
);

-- Why rows were dropped (kind 'drop' / 'dedup') and how mappers changed them (kind 'map').
CREATE TABLE IF NOT EXISTS trace (
    run_id     VARCHAR NOT NULL,
    statement  INTEGER NOT NULL,     -- 1-based statement number in the recipe
    dataset    VARCHAR,              -- the relation the statement read
    uid        BIGINT,
    kind       VARCHAR NOT NULL,
    step       INTEGER,              -- 1-based position of the predicate in execution order
    op         VARCHAR,
    predicate  VARCHAR,              -- the predicate as written in the recipe
    detail     VARCHAR,              -- stat values, or the uid a duplicate repeats
    before     VARCHAR,
    after      VARCHAR
);

-- One row per `juicedb run`, with the per-predicate summary as JSON.
CREATE TABLE IF NOT EXISTS runs (
    run_id    VARCHAR PRIMARY KEY,
    recipe    VARCHAR,
    started   TIMESTAMP,
    finished  TIMESTAMP,
    status    VARCHAR,
    rows_out  BIGINT,
    summary   JSON
);

-- Stats per sample, one column per stat key (suffixed with non-default params).
CREATE TABLE IF NOT EXISTS stats (
    dataset  VARCHAR NOT NULL,       -- the relation the stats were computed on
    uid      BIGINT NOT NULL,
    PRIMARY KEY (dataset, uid)
);

-- The stats cache: one table per operator fingerprint, keyed by md5 of the input content.
CREATE SCHEMA IF NOT EXISTS jdb_cache;
CREATE TABLE IF NOT EXISTS jdb_cache.entries (
    fingerprint  VARCHAR PRIMARY KEY,
    op           VARCHAR NOT NULL,
    params       VARCHAR,
    table_name   VARCHAR NOT NULL,
    created      TIMESTAMP DEFAULT current_timestamp
);

-- Content keys of a loaded dataset's column (md5 per row id), computed once per dataset file.
CREATE TABLE IF NOT EXISTS jdb_cache.keys (
    dataset     VARCHAR NOT NULL,
    col         VARCHAR NOT NULL,
    size        BIGINT,
    mtime_ns    BIGINT,
    table_name  VARCHAR NOT NULL,
    PRIMARY KEY (dataset, col)
);

-- The stats of every row of a dataset file for one set of operator calls, in row id order: written the
-- first time every row has them all cached, so re-thresholding the same recipe joins one table and checks
-- nothing (the caches only grow, the file is identified by size and mtime). A few per dataset are kept.
CREATE TABLE IF NOT EXISTS jdb_cache.stat_tables (
    table_name  VARCHAR PRIMARY KEY,
    dataset     VARCHAR NOT NULL,
    size        BIGINT,
    mtime_ns    BIGINT,
    used        TIMESTAMP DEFAULT current_timestamp
);
