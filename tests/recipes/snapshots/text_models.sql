-- statement 1 (line 5): planned
--   dataset <recipes>/data/demo-text.jsonl -> ds_demo_text_<hash>
--   source: ds_demo_text_<hash>
--   stage 1 [cheap]: compute text_len(text), alnum_ratio(text)
--     1. text_len(text) BETWEEN 200 AND 20000    (written #1; no stats yet; rank 2.20)
--     2. alnum_ratio(text) >= 0.6    (written #2; no stats yet; rank 8.20)
--   stage 2 [model]: compute lang_score(text), lang(text)
--     3. lang_score(text) >= 0.8    (written #3; no stats yet; rank 4000.20)
--     4. lang(text) = 'en'    (written #4; no stats yet; rank 4000.20)
--   stage 3 [model]: compute num_action(text)
--     5. num_action(text) >= 3    (written #5; no stats yet; rank 4000.20)
--   stage 4 [gpu_model]: compute perplexity(text, max_tokens := 256)
--     6. perplexity(text, max_tokens := 256) <= 60    (written #6; no stats yet; rank 10000.20)
CREATE OR REPLACE TABLE fluent_en AS SELECT uid, text, __jdb_1 AS lang_score, __jdb_2 AS actions, __jdb_3 AS ppl FROM __jdb_w0 AS dataset LEFT JOIN __jdb_o0_1 USING (__rid) LEFT JOIN __jdb_o0_2 USING (__rid) LEFT JOIN __jdb_o0_3 USING (__rid) LEFT JOIN __jdb_o0_4 USING (__rid) LEFT JOIN __jdb_o0_5 USING (__rid) LEFT JOIN __jdb_o0_6 USING (__rid) WHERE __jdb_4 BETWEEN 200 AND 20000 AND __jdb_5 >= 0.6 AND __jdb_1 >= 0.8 AND __jdb_6 = 'en' AND __jdb_2 >= 3 AND __jdb_3 <= 60 ORDER BY dataset.__rid;
-- statement 2 (line 16): plain
COPY (SELECT * FROM fluent_en ORDER BY ppl) TO '<recipes>/out/fluent_en.jsonl';
