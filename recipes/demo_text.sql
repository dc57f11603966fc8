-- The main demo: clean, filter and deduplicate real text (Debian man pages,
-- docs, licenses and fortunes in 11 languages, with repeats and broken lines).
-- Thresholds are Data-Juicer's defaults. Run: juicedb run recipes/demo_text.sql
CREATE OR REPLACE TABLE demo_refined AS
SELECT uid,
       whitespace_normalization(clean_links(clean_email(text))) AS text,
       meta
FROM dataset('data/demo-text.jsonl')
WHERE text_len(text) >= 10
  AND alnum_ratio(text) >= 0.25
  AND special_char_ratio(text) <= 0.25
  AND char_rep_ratio(text) <= 0.5
  AND word_rep_ratio(text) <= 0.5
  AND num_words(text) >= 10
  AND stopwords_ratio(text, lang := 'en') >= 0.3
  AND flagged_words_ratio(text, lang := 'en') <= 0.045
  AND document_deduplicator(text);

COPY demo_refined TO 'out/demo_refined.jsonl';

-- What was dropped, and by which predicate (also in the `trace` table).
SELECT predicate, count(*) AS dropped
FROM trace
WHERE run_id = (SELECT max(run_id) FROM runs)
GROUP BY predicate
ORDER BY dropped DESC;
