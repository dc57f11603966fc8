"""Image operators, one module each."""

from juicedb.udfs.image import (  # noqa: F401  (registration happens on import)
    image_aesthetics,
    image_aspect_ratio,
    image_deduplicator,
    image_nsfw,
    image_shape,
    image_size,
    image_text_matching,
    image_text_similarity,
    image_watermark,
    phrase_grounding_recall,
)
