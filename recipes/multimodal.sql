-- Text, image and video predicates in one recipe, over image-text and video-text
-- samples with real media (recipes/data/media). Cheap header reads (aspect ratio,
-- size, duration) run first; the NSFW model and the optical flow score only the
-- samples those kept. Needs pip install 'juicedb[image-models,video]'.
CREATE OR REPLACE TABLE mm_refined AS
SELECT uid, text, images, videos,
       aspect_ratios(images) AS aspect_ratios, image_nsfw_score(images) AS nsfw,
       video_duration(videos) AS seconds, video_motion_score(videos) AS motion
FROM dataset('data/demo-multimodal.jsonl')
WHERE text_len(text) >= 20
  AND image_aspect_ratio_filter(images, min_ratio := 0.75, max_ratio := 2.0)
  AND image_shape_filter(images, min_width := 300, min_height := 300)
  AND video_duration_filter(videos, max_duration := 30)
  AND image_nsfw_filter(images, max_score := 0.5)
  AND video_motion_score_filter(videos, min_score := 0.25)
  AND image_deduplicator(images);

COPY mm_refined TO 'out/mm_refined.jsonl';
