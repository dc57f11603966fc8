-- statement 1 (line 3): planned
--   dataset <recipes>/data/demo-text.jsonl -> ds_demo_text_<hash>
--   source: ds_demo_text_<hash>
--   stage 1 [cheap]: compute text_len(text), special_char_ratio(text)
--     1. text_len(text) >= 50 AND text_len(text) <= 200000    (written #1; no stats yet; rank 2.20)
--     2. special_char_ratio(text) >= 0.0 AND special_char_ratio(text) <= 0.4    (written #4; no stats yet; rank 8.20)
--   stage 2 [moderate]: compute char_rep_ratio(text, rep_len := 10), num_words(text)
--     3. char_rep_ratio(text, rep_len := 10) >= 0.0 AND char_rep_ratio(text, rep_len := 10) <= 0.6    (written #2; no stats yet; rank 40.20)
--     4. num_words(text) >= 20    (written #3; no stats yet; rank 40.20)
--   stage 3 [cheap]: compute document_deduplicator(text, lowercase := TRUE, ignore_non_character := TRUE)
--     5. document_deduplicator(text, lowercase := TRUE, ignore_non_character := TRUE)    (written #5; no stats yet; rank 8.20)
--   then on the survivors: compute fix_unicode(text), punctuation_normalization(fix_unicode(text))
CREATE OR REPLACE TABLE dj_style AS SELECT uid, __jdb_2 AS text FROM __jdb_w0 AS dataset LEFT JOIN __jdb_o0_1 USING (__rid) LEFT JOIN __jdb_o0_2 USING (__rid) LEFT JOIN __jdb_o0_3 USING (__rid) LEFT JOIN __jdb_o0_4 USING (__rid) LEFT JOIN __jdb_o0_5 USING (__rid) LEFT JOIN __jdb_o0_6 USING (__rid) LEFT JOIN __jdb_o0_7 USING (__rid) LEFT JOIN __jdb_o0_7_keep USING (__rid) WHERE (__jdb_3 >= 50 AND __jdb_3 <= 200000) AND (__jdb_6 >= 0.0 AND __jdb_6 <= 0.4) AND (__jdb_4 >= 0.0 AND __jdb_4 <= 0.6) AND __jdb_5 >= 20 AND __jdb_7_keep ORDER BY dataset.__rid;
-- statement 2 (line 12): plain
COPY dj_style TO '<recipes>/out/dj_style.parquet' WITH (FORMAT parquet);
