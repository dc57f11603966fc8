-- statement 1 (line 8): planned
--   dataset <recipes>/data/demo-text.jsonl -> ds_demo_text_<hash>
--   source: ds_demo_text_<hash>
--   then on the survivors: compute clean_email(text), clean_links(clean_email(text)), fix_unicode(clean_links(clean_email(text))), punctuation_normalization(fix_unicode(clean_links(clean_email(text)))), whitespace_normalization(punctuation_normalization(fix_unicode(clean_links(clean_email(text)))))
CREATE OR REPLACE TEMPORARY TABLE __jdb_cte0_cleaned AS SELECT uid, __jdb_5 AS text, meta FROM __jdb_w0 AS dataset LEFT JOIN __jdb_o0_1 USING (__rid) LEFT JOIN __jdb_o0_2 USING (__rid) LEFT JOIN __jdb_o0_3 USING (__rid) LEFT JOIN __jdb_o0_4 USING (__rid) LEFT JOIN __jdb_o0_5 USING (__rid) ORDER BY dataset.__rid;
-- statement 2 (line 8): planned
--   source: __jdb_cte0_cleaned
--   stage 1 [cheap]: compute alnum_ratio(text), avg_line_length(text), max_line_length(text), special_char_ratio(text)
--     1. alnum_ratio(text) BETWEEN 0.65 AND 0.9    (written #1; no stats yet; rank 8.20)
--     2. avg_line_length(text) BETWEEN 10 AND 3000    (written #2; no stats yet; rank 8.20)
--     3. max_line_length(text) BETWEEN 10 AND 4000    (written #5; no stats yet; rank 8.20)
--     4. special_char_ratio(text) <= 0.4    (written #6; no stats yet; rank 8.20)
--   stage 2 [moderate]: compute char_rep_ratio(text)
--     5. char_rep_ratio(text) <= 0.3    (written #3; no stats yet; rank 40.20)
--   stage 3 [model]: compute lang_score(text)
--     6. lang_score(text) >= 0.6    (written #4; no stats yet; rank 4000.20)
--   stage 4 [expensive]: compute document_simhash_deduplicator(text, window_size := 6, ignore_pattern := '\p{P}')
--     7. document_simhash_deduplicator(text, window_size := 6, ignore_pattern := '\p{P}')    (written #7; no stats yet; rank 400.20)
CREATE OR REPLACE TABLE c4_refined AS SELECT uid, text, meta FROM __jdb_w1 AS cleaned LEFT JOIN __jdb_o1_1 USING (__rid) LEFT JOIN __jdb_o1_2 USING (__rid) LEFT JOIN __jdb_o1_3 USING (__rid) LEFT JOIN __jdb_o1_4 USING (__rid) LEFT JOIN __jdb_o1_5 USING (__rid) LEFT JOIN __jdb_o1_6 USING (__rid) LEFT JOIN __jdb_o1_7 USING (__rid) LEFT JOIN __jdb_o1_7_keep USING (__rid) WHERE __jdb_1 BETWEEN 0.65 AND 0.9 AND __jdb_2 BETWEEN 10 AND 3000 AND __jdb_5 BETWEEN 10 AND 4000 AND __jdb_6 <= 0.4 AND __jdb_3 <= 0.3 AND __jdb_4 >= 0.6 AND __jdb_7_keep ORDER BY cleaned.__rid;
-- statement 3 (line 23): plain
COPY c4_refined TO '<recipes>/out/c4_refined.jsonl';
