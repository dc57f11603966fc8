-- The same kind of pipeline written with Data-Juicer's operator names and
-- parameters: each filter call is DJ's keep rule (min <= stat <= max, closed).
CREATE OR REPLACE TABLE dj_style AS
SELECT uid, punctuation_normalization(fix_unicode(text)) AS text
FROM dataset('data/demo-text.jsonl')
WHERE text_length_filter(text, min_len := 50, max_len := 200000)
  AND character_repetition_filter(text, rep_len := 10, max_ratio := 0.6)
  AND words_num_filter(text, min_num := 20)
  AND special_characters_filter(text, max_ratio := 0.4)
  AND document_deduplicator(text, lowercase := true, ignore_non_character := true);

COPY dj_style TO 'out/dj_style.parquet' (FORMAT parquet);
