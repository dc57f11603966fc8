"""Text operators, one module each."""

from juicedb.udfs.text import (  # noqa: F401  (registration happens on import)
    alphanumeric,
    character_repetition,
    clean_email,
    clean_links,
    fix_unicode,
    flagged_words,
    language_id,
    punctuation_normalization,
    special_characters,
    stopwords,
    text_length,
    token_num,
    whitespace_normalization,
    word_repetition,
    words_num,
)
