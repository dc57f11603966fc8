-- statement 1 (line 4): planned
--   dataset <recipes>/data/demo-text.jsonl -> ds_demo_text_<hash>
--   source: ds_demo_text_<hash>
--   stage 1 [cheap]: compute text_len(text), alnum_ratio(text), special_char_ratio(text)
--     1. text_len(text) >= 10    (written #1; no stats yet; rank 2.20)
--     2. alnum_ratio(text) >= 0.25    (written #2; no stats yet; rank 8.20)
--     3. special_char_ratio(text) <= 0.25    (written #3; no stats yet; rank 8.20)
--   stage 2 [moderate]: compute char_rep_ratio(text), word_rep_ratio(text), num_words(text), stopwords_ratio(text, lang := 'en'), flagged_words_ratio(text, lang := 'en')
--     4. char_rep_ratio(text) <= 0.5    (written #4; no stats yet; rank 40.20)
--     5. word_rep_ratio(text) <= 0.5    (written #5; no stats yet; rank 40.20)
--     6. num_words(text) >= 10    (written #6; no stats yet; rank 40.20)
--     7. stopwords_ratio(text, lang := 'en') >= 0.3    (written #7; no stats yet; rank 40.20)
--     8. flagged_words_ratio(text, lang := 'en') <= 0.045    (written #8; no stats yet; rank 40.20)
--   stage 3 [cheap]: compute document_deduplicator(text)
--     9. document_deduplicator(text)    (written #9; no stats yet; rank 8.20)
--   then on the survivors: compute clean_email(text), clean_links(clean_email(text)), whitespace_normalization(clean_links(clean_email(text)))
CREATE OR REPLACE TABLE demo_refined AS SELECT uid, __jdb_3 AS text, meta FROM __jdb_w0 AS dataset LEFT JOIN __jdb_o0_1 USING (__rid) LEFT JOIN __jdb_o0_2 USING (__rid) LEFT JOIN __jdb_o0_3 USING (__rid) LEFT JOIN __jdb_o0_4 USING (__rid) LEFT JOIN __jdb_o0_5 USING (__rid) LEFT JOIN __jdb_o0_6 USING (__rid) LEFT JOIN __jdb_o0_7 USING (__rid) LEFT JOIN __jdb_o0_8 USING (__rid) LEFT JOIN __jdb_o0_9 USING (__rid) LEFT JOIN __jdb_o0_10 USING (__rid) LEFT JOIN __jdb_o0_11 USING (__rid) LEFT JOIN __jdb_o0_12 USING (__rid) LEFT JOIN __jdb_o0_12_keep USING (__rid) WHERE __jdb_4 >= 10 AND __jdb_5 >= 0.25 AND __jdb_6 <= 0.25 AND __jdb_7 <= 0.5 AND __jdb_8 <= 0.5 AND __jdb_9 >= 10 AND __jdb_10 >= 0.3 AND __jdb_11 <= 0.045 AND __jdb_12_keep ORDER BY dataset.__rid;
-- statement 2 (line 19): plain
COPY demo_refined TO '<recipes>/out/demo_refined.jsonl';
-- statement 3 (line 22): plain
SELECT predicate, count(*) AS dropped
FROM trace
WHERE run_id = (SELECT max(run_id) FROM runs)
GROUP BY predicate
ORDER BY dropped DESC;
