-- The sandbox's tables (juicedb sandbox): stat buckets, pools, and the training jobs and their metrics.
-- Created on first use by juicedb.sandbox; all queryable in `juicedb shell`:
--   SELECT name, kind, rows, definition FROM pools;
--   SELECT * FROM pool('text_len:high') LIMIT 5;            -- a pool's samples
--   SELECT pool, seed, metric, value FROM sandbox_metrics JOIN sandbox_jobs USING (job);

-- Every sample's bucket for a stat: sorted ascending (a list stat by its mean, NULL first,
-- ties in dataset order) and cut at int(N * r + 0.5) for each split ratio r (Data-Juicer's rule).
CREATE TABLE IF NOT EXISTS pool_buckets (
    dataset  VARCHAR NOT NULL,       -- the ds_<name> table the uids belong to
    stat     VARCHAR NOT NULL,       -- the stat's name in the sandbox
    uid      BIGINT NOT NULL,
    value    DOUBLE,                 -- the value sorted on
    rank     BIGINT NOT NULL,        -- 1-based position after sorting
    bucket   INTEGER NOT NULL        -- 0 = lowest
);

-- One row per pool: what made it (lineage) and a hash of its members (what a job depends on).
CREATE TABLE IF NOT EXISTS pools (
    name          VARCHAR PRIMARY KEY,
    dataset       VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,  -- bucket | random | downsample | intersect | union | duplicate | fill | recipe
    definition    JSON NOT NULL,     -- the parameters: stat and bucket bounds, predicate, seed, times, recipe hash...
    def_hash      VARCHAR NOT NULL,  -- sha1 of the definition and the parents' def_hash
    parents       VARCHAR[],
    seed          BIGINT,
    rows          BIGINT NOT NULL,   -- samples, repeated ones counted
    distinct_rows BIGINT NOT NULL,
    uids_hash     VARCHAR NOT NULL,  -- md5 over the member uids in order
    created       TIMESTAMP DEFAULT current_timestamp
);

-- A pool's members in order; a duplicated sample appears once per copy.
CREATE TABLE IF NOT EXISTS pool_members (
    pool  VARCHAR NOT NULL,
    ord   BIGINT NOT NULL,
    uid   BIGINT NOT NULL,
    copy  INTEGER NOT NULL DEFAULT 0
);

-- One row per (pool content, trainer, evaluators, seed, budget scale): a finished job is never re-run.
CREATE TABLE IF NOT EXISTS sandbox_jobs (
    job       VARCHAR PRIMARY KEY,   -- sha1 of everything the result depends on
    sandbox   VARCHAR,
    stage     VARCHAR,
    pool      VARCHAR,
    uids_hash VARCHAR,
    trainer   VARCHAR,
    seed      BIGINT,
    scale     DOUBLE,
    status    VARCHAR,               -- running | done | failed: <message>
    seconds   DOUBLE,
    artifact  VARCHAR,
    info      JSON,                  -- what the trainer reports (tokens seen, final loss, ...)
    started   TIMESTAMP,
    finished  TIMESTAMP
);

CREATE TABLE IF NOT EXISTS sandbox_metrics (
    job               VARCHAR NOT NULL,
    metric            VARCHAR NOT NULL,
    value             DOUBLE,
    higher_is_better  BOOLEAN NOT NULL
);

CREATE OR REPLACE MACRO pool(pool_name) AS TABLE
SELECT m.ord, m.copy, s.*
FROM pool_members m
JOIN pools p ON p.name = m.pool
JOIN samples s ON s.dataset = p.dataset AND s.uid = m.uid
WHERE m.pool = pool_name
ORDER BY m.ord;
