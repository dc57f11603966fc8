"""Video operators, one module each."""

from juicedb.udfs.video import (  # noqa: F401  (registration happens on import)
    video_aesthetics,
    video_aspect_ratio,
    video_deduplicator,
    video_duration,
    video_frames_text_similarity,
    video_motion_score,
    video_nsfw,
    video_ocr_area_ratio,
    video_resolution,
    video_watermark,
)
