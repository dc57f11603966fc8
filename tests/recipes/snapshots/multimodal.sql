-- statement 1 (line 5): planned
--   dataset <recipes>/data/demo-multimodal.jsonl -> ds_demo_multimodal_<hash>
--   source: ds_demo_multimodal_<hash>
--   stage 1 [trivial]: compute text_len(text)
--     1. text_len(text) >= 20    (written #1; no stats yet; rank 2.20)
--   stage 2 [cheap]: compute aspect_ratios(images)
--     2. image_aspect_ratio_filter(images, min_ratio := 0.75, max_ratio := 2.0)    (written #2; no stats yet; rank 8.20)
--   stage 3 [cheap]: compute video_duration(videos)
--     3. video_duration_filter(videos, max_duration := 30)    (written #4; no stats yet; rank 8.20)
--   stage 4 [cheap]: compute image_width(images), image_height(images)
--     4. image_shape_filter(images, min_width := 300, min_height := 300)    (written #3; no stats yet; rank 16.20)
--   stage 5 [expensive]: compute video_motion_score(videos)
--     5. video_motion_score_filter(videos, min_score := 0.25)    (written #6; no stats yet; rank 400.20)
--   stage 6 [gpu_model]: compute image_nsfw_score(images)
--     6. image_nsfw_filter(images, max_score := 0.5)    (written #5; no stats yet; rank 10000.20)
--   stage 7 [moderate]: compute image_deduplicator(images)
--     7. image_deduplicator(images)    (written #7; no stats yet; rank 40.20)
CREATE OR REPLACE TABLE mm_refined AS SELECT uid, text, images, videos, __jdb_1 AS aspect_ratios, __jdb_2 AS nsfw, __jdb_3 AS seconds, __jdb_4 AS motion FROM __jdb_w0 AS dataset LEFT JOIN __jdb_o0_1 USING (__rid) LEFT JOIN __jdb_o0_2 USING (__rid) LEFT JOIN __jdb_o0_3 USING (__rid) LEFT JOIN __jdb_o0_4 USING (__rid) LEFT JOIN __jdb_o0_5 USING (__rid) LEFT JOIN __jdb_o0_6 USING (__rid) LEFT JOIN __jdb_o0_7 USING (__rid) LEFT JOIN __jdb_o0_8 USING (__rid) LEFT JOIN __jdb_o0_8_keep USING (__rid) WHERE __jdb_5 >= 20 AND (LENGTH(__jdb_1) = 0 OR CASE WHEN 'any' = 'any' THEN list_bool_or(LIST_TRANSFORM(__jdb_1, LAMBDA v : v >= 0.75 AND v <= 2.0)) ELSE list_bool_and(LIST_TRANSFORM(__jdb_1, LAMBDA v : v >= 0.75 AND v <= 2.0)) END) AND (LENGTH(__jdb_3) = 0 OR CASE WHEN 'any' = 'any' THEN list_bool_or(LIST_TRANSFORM(__jdb_3, LAMBDA v : v >= 0 AND v <= 30)) ELSE list_bool_and(LIST_TRANSFORM(__jdb_3, LAMBDA v : v >= 0 AND v <= 30)) END) AND (LENGTH(list_zip(__jdb_6, __jdb_7)) = 0 OR CASE WHEN 'any' = 'any' THEN list_bool_or(LIST_TRANSFORM(list_zip(__jdb_6, __jdb_7), LAMBDA v : v[1] >= 300 AND v[1] <= 9223372036854775807 AND v[2] >= 300 AND v[2] <= 9223372036854775807)) ELSE list_bool_and(LIST_TRANSFORM(list_zip(__jdb_6, __jdb_7), LAMBDA v : v[1] >= 300 AND v[1] <= 9223372036854775807 AND v[2] >= 300 AND v[2] <= 9223372036854775807)) END) AND (LENGTH(__jdb_4) = 0 OR CASE WHEN 'any' = 'any' THEN list_bool_or(LIST_TRANSFORM(__jdb_4, LAMBDA v : v >= 0.25 AND v <= 1.7976931348623157e+308)) ELSE list_bool_and(LIST_TRANSFORM(__jdb_4, LAMBDA v : v >= 0.25 AND v <= 1.7976931348623157e+308)) END) AND (LENGTH(__jdb_2) = 0 OR CASE WHEN 'any' = 'any' THEN list_bool_or(LIST_TRANSFORM(__jdb_2, LAMBDA v : v >= 0.0 AND v <= 0.5)) ELSE list_bool_and(LIST_TRANSFORM(__jdb_2, LAMBDA v : v >= 0.0 AND v <= 0.5)) END) AND __jdb_8_keep ORDER BY dataset.__rid;
-- statement 2 (line 18): plain
COPY mm_refined TO '<recipes>/out/mm_refined.jsonl';
