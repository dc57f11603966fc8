-- Data-Juicer's selectors as DuckDB table macros over any table (by name) and
-- column (by name):  SELECT * FROM topk_specified_field_selector('refined', 'alnum_ratio', topk := 100)
-- The selected set is DJ's, ties included (DJ's heapq keeps the earlier row
-- among equal values); rows come back in source order. NULL values rank lowest,
-- as DJ's stats_to_number makes them.

CREATE OR REPLACE TEMP MACRO random_selector(tbl, select_ratio := NULL, select_num := NULL, seed := 42) AS TABLE
WITH src AS (SELECT *, row_number() OVER () AS __jdb_pos FROM query_table(tbl)),
     k AS (SELECT count(*) AS n,
                  CASE WHEN coalesce(select_ratio, 0) = 0 THEN select_num
                       ELSE least(floor(select_ratio * count(*))::BIGINT, coalesce(select_num, count(*))) END AS k
           FROM src),
     ranked AS (SELECT *, row_number() OVER (ORDER BY hash(__jdb_pos, seed), __jdb_pos) AS __jdb_r FROM src)
SELECT * EXCLUDE (__jdb_pos, __jdb_r) FROM ranked
WHERE (SELECT k IS NULL OR n <= 1 FROM k) OR __jdb_r <= (SELECT k FROM k)
ORDER BY __jdb_pos;

CREATE OR REPLACE TEMP MACRO topk_specified_field_selector(tbl, field_key, top_ratio := NULL, topk := NULL,
                                                           reverse := TRUE) AS TABLE
WITH src AS (SELECT *, row_number() OVER () AS __jdb_pos, coalesce(columns(field_key)::DOUBLE, -1e308) AS __jdb_v
             FROM query_table(tbl)),
     k AS (SELECT count(*) AS n,
                  CASE WHEN coalesce(top_ratio, 0) = 0 THEN topk
                       ELSE floor(least(top_ratio * count(*), coalesce(topk, top_ratio * count(*))))::BIGINT END AS k
           FROM src),
     ranked AS (SELECT *, row_number() OVER (ORDER BY CASE WHEN reverse THEN -__jdb_v ELSE __jdb_v END, __jdb_pos)
                          AS __jdb_r FROM src)
SELECT * EXCLUDE (__jdb_pos, __jdb_v, __jdb_r) FROM ranked
WHERE (SELECT k IS NULL OR n <= 1 FROM k) OR __jdb_r <= (SELECT k FROM k)
ORDER BY __jdb_pos;

CREATE OR REPLACE TEMP MACRO range_specified_field_selector(tbl, field_key, lower_percentile := NULL,
                                                            upper_percentile := NULL, lower_rank := NULL,
                                                            upper_rank := NULL) AS TABLE
WITH src AS (SELECT *, row_number() OVER () AS __jdb_pos, coalesce(columns(field_key)::DOUBLE, -1e308) AS __jdb_v
             FROM query_table(tbl)),
     b AS (SELECT count(*) AS n,
                  greatest(coalesce(floor(lower_percentile * count(*))::BIGINT, 0), coalesce(lower_rank, 0)) AS lo,
                  least(coalesce(floor(upper_percentile * count(*))::BIGINT, count(*)),
                        coalesce(upper_rank, count(*))) AS hi0
           FROM src),
     bounds AS (SELECT n, lo, greatest(lo, hi0) AS hi,
                       (lower_percentile IS NULL AND lower_rank IS NULL)
                       OR (upper_percentile IS NULL AND upper_rank IS NULL) OR n <= 1 AS everything FROM b),
     low AS (SELECT *, row_number() OVER (ORDER BY __jdb_v, __jdb_pos) AS __jdb_up FROM src),
     sub AS (SELECT *, row_number() OVER (ORDER BY __jdb_v DESC, __jdb_pos) AS __jdb_down FROM low
             WHERE __jdb_up <= (SELECT hi FROM bounds))
SELECT * EXCLUDE (__jdb_pos, __jdb_v) FROM src
WHERE (SELECT everything FROM bounds)
   OR __jdb_pos IN (SELECT __jdb_pos FROM sub WHERE __jdb_down <= (SELECT hi - lo FROM bounds))
ORDER BY __jdb_pos;

CREATE OR REPLACE TEMP MACRO frequency_specified_field_selector(tbl, field_key, top_ratio := NULL, topk := NULL,
                                                                reverse := TRUE) AS TABLE
WITH src AS (SELECT *, row_number() OVER () AS __jdb_pos, columns(field_key)::VARCHAR AS __jdb_v FROM query_table(tbl)),
     groups AS (SELECT __jdb_v, count(*) AS size, min(__jdb_pos) AS first FROM src GROUP BY __jdb_v),
     k AS (SELECT (SELECT count(*) FROM src) AS n,
                  CASE WHEN coalesce(top_ratio, 0) = 0 THEN topk
                       ELSE floor(least(top_ratio * count(*), coalesce(topk, top_ratio * count(*))))::BIGINT END AS k
           FROM groups),
     chosen AS (SELECT __jdb_v FROM (SELECT __jdb_v, row_number() OVER (
                    ORDER BY CASE WHEN reverse THEN -size ELSE size END, first) AS r FROM groups)
                WHERE r <= (SELECT k FROM k))
SELECT * EXCLUDE (__jdb_pos, __jdb_v) FROM src
WHERE (SELECT k IS NULL OR n <= 1 FROM k) OR __jdb_v IN (SELECT __jdb_v FROM chosen)
   OR (__jdb_v IS NULL AND EXISTS (SELECT 1 FROM chosen WHERE __jdb_v IS NULL))
ORDER BY __jdb_pos;

CREATE OR REPLACE TEMP MACRO tags_specified_field_selector(tbl, field_key, target_tags := []) AS TABLE
SELECT * EXCLUDE (__jdb_v) FROM (SELECT *, columns(field_key)::VARCHAR AS __jdb_v FROM query_table(tbl))
WHERE list_contains(target_tags, __jdb_v);
