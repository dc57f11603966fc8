-- Data-Juicer's RedPajama C4 refine recipe (configs/data_juicer_recipes/redpajama-c4-refine.yaml),
-- written by hand in SQL: clean the text, then keep DJ's 3-sigma ranges and deduplicate with SimHash.
-- `juicedb run <that yaml> --skip-missing --skip perplexity_filter --set dataset_path=...` keeps the
-- same rows with the same stats (tests/dj). Left out, as there: words_num_filter and
-- word_repetition_filter (tokenization: true needs DJ's sentencepiece models) and perplexity_filter
-- (DJ's KenLM models are not packaged; recipes/text_models.sql runs a perplexity filter). The line
-- filters' lower bound 10 is DJ's default min_len.
CREATE OR REPLACE TABLE c4_refined AS
WITH cleaned AS (
    SELECT uid, whitespace_normalization(punctuation_normalization(fix_unicode(clean_links(clean_email(text)))))
               AS text, meta
    FROM dataset('data/demo-text.jsonl'))
SELECT uid, text, meta
FROM cleaned
WHERE alnum_ratio(text) BETWEEN 0.65 AND 0.9
  AND avg_line_length(text) BETWEEN 10 AND 3000
  AND char_rep_ratio(text) <= 0.3
  AND lang_score(text) >= 0.6
  AND max_line_length(text) BETWEEN 10 AND 4000
  AND special_char_ratio(text) <= 0.4
  AND document_simhash_deduplicator(text, window_size := 6, ignore_pattern := '\p{P}');

COPY c4_refined TO 'out/c4_refined.jsonl';
