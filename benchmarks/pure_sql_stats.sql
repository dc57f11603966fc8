-- =============================================================================
-- pure_sql_stats.sql -- the "pure DuckDB SQL" peer for the stats benchmark.
--
-- Input : docs(id BIGINT, text VARCHAR)
-- Output: pure_stats(id, text_len, alnum_ratio, special_char_ratio,
--                    char_rep_ratio, word_rep_ratio, num_words,
--                    stopwords_ratio, flagged_words_ratio)
--
-- Computes Data-Juicer 1.6.1's statistics with default parameters
-- (text_length_filter, alphanumeric_filter (tokenization=False),
-- special_characters_filter, character_repetition_filter (rep_len=10),
-- word_repetition_filter (rep_len=10), words_num_filter, stopwords_filter
-- and flagged_words_filter (lang='en', tokenization=False,
-- use_words_aug=False)) with SQL only: no UDFs, no extensions.
--
-- Helper tables (must exist before this script runs; the benchmark driver
-- fills them, e.g. from Python):
--   special_chars(cp VARCHAR)  one row per single-code-point member of
--       data_juicer.ops.common.special_characters.SPECIAL_CHARACTERS, i.e.
--         from data_juicer.ops.common.special_characters import SPECIAL_CHARACTERS
--         rows = sorted(c for c in SPECIAL_CHARACTERS if len(c) == 1)
--       (string.punctuation + digits + whitespace + OTHER_SPECIAL_CHARACTERS
--       + emoji.EMOJI_DATA keys of emoji==2.2.0; multi-code-point emoji keys
--       can never equal a single character, so they are left out).
--   stopwords(word VARCHAR)      json.load(open('stopwords.json'))['en']
--   flagged_words(word VARCHAR)  json.load(open('flagged_words.json'))['en']
--       (Data-Juicer's word-list assets, key 'en').
--
-- Definitions (Python, as in Data-Juicer; "len" counts code points, DuckDB's
-- length() does too; every ratio with a zero denominator is 0.0):
--   text_len            len(text)
--   alnum_ratio         #{c : c.isalnum()} / len
--   special_char_ratio  #{c : c in SPECIAL_CHARACTERS} / len
--   char_rep_ratio      freqs of all char 10-grams sorted desc;
--                       k = min(int(sqrt(#distinct)), #distinct - #(freq == 1));
--                       sum(top k freqs) / #10-grams
--   words               text split on ' ', '\n', '\t' only, empty pieces dropped;
--                       "refined" = [lower-cased, then] stripped of
--                       SPECIAL_CHARACTERS at both ends, empty words dropped
--   num_words           #refined words (not lower-cased)
--   word_rep_ratio      over word 10-grams of the lower-cased refined words:
--                       sum of freqs of 10-grams with freq > 1 / #10-grams
--   stopwords_ratio     #(lower-cased refined words in stopwords) / #words, cap 1
--   flagged_words_ratio #(lower-cased refined words in flagged_words) / #words, cap 1
--
-- How it is computed:
--   * character classes are counted with one regexp_replace pass each:
--     count = length(text) - length(regexp_replace(text, '[class]+', '', 'g'));
--   * refined words come straight out of one regexp_extract_all: a refined word
--     is a maximal run of non-separators with its special characters trimmed
--     off both ends, i.e. the match of  N(?:[^ \n\t]*N)?  where N is
--     "one character that is not special" (' ', '\n', '\t' are special, so a
--     match never crosses a separator); lower-casing the whole text first
--     equals lower-casing every word (Python's lower() is per character, apart
--     from the Final_Sigma rule, whose context stops at separators);
--   * char 10-grams: the text is cut into 10-character chunks (one regex
--     pass); each chunk glued to its successor yields the 10 grams starting in
--     it; GROUP BY (id, gram) gives the frequencies;
--   * word 10-grams: 10 shifted slices of the word list unnested side by side
--     (unnest of several lists zips them), GROUP BY (id, w1..w10).
--
-- Exactness details (all handled here, so the results equal CPython 3.11):
--   * Python str.lower() differs from DuckDB lower() in two places only:
--     'İ' (U+0130) lowers to 'i' + U+0307, and capital sigma lowers to final
--     'ς' in the Final_Sigma context (preceded by a cased letter, not followed
--     by one, case-ignorable characters skipped).  Both are rewritten before
--     lower(); the cased / case-ignorable classes below were checked code
--     point by code point against CPython 3.11.
--   * str.isalnum() of CPython 3.11 uses Unicode 14.0; RE2's \pL / \pN know
--     letters and digits added in Unicode 15.x, which CPython 3.11 treats as
--     unassigned (not alnum).  Those code point ranges are subtracted.
-- =============================================================================

-- [special] as RE2 escapes: \x{..}\x{..}...
SET VARIABLE sp = (
    SELECT string_agg(printf('\x{%X}', unicode(cp)), '' ORDER BY unicode(cp))
    FROM special_chars WHERE length(cp) = 1);

-- one refined word: a non-special char, optionally followed by non-separators
-- up to the last non-special char of the same word
SET VARIABLE word_re = '[^' || getvariable('sp') || '](?:[^ \n\t]*[^' || getvariable('sp') || '])?';

-- characters whose "is this word empty after stripping" answer changes with
-- lower-casing (special but lower-case is not, or the other way round, e.g.
-- 'Г' -> 'г', 'Ø' -> 'ø').  Only texts containing one of them need their own
-- non-lower-cased word extraction for num_words.
SET VARIABLE case_flip_re = (
    SELECT '[' || coalesce(string_agg(printf('\x{%X}', c), ''), '\x{0}') || ']'
    FROM range(1, 1114112) r(c)
    WHERE c NOT BETWEEN 55296 AND 57343
      AND (chr(c::INTEGER) IN (SELECT cp FROM special_chars))
          = regexp_matches(lower(chr(c::INTEGER)), '[^' || getvariable('sp') || ']'));

CREATE OR REPLACE TABLE pure_stats AS
WITH base AS MATERIALIZED (
    SELECT
        id,
        text,
        length(text) AS n,
        -- alnum: \pL|\pN minus what CPython 3.11 (Unicode 14.0) does not know yet
        length(regexp_replace(text, '[^\pL\pN]+', '', 'g'))
          - CASE WHEN strlen(text) > length(text)
                  AND regexp_matches(text, '[\x{1123F}-\x{11240}\x{11F02}\x{11F04}-\x{11F10}\x{11F12}-\x{11F33}\x{11F50}-\x{11F59}\x{1342F}\x{13441}-\x{13446}\x{1B132}\x{1B155}\x{1D2C0}-\x{1D2D3}\x{1DF25}-\x{1DF2A}\x{1E030}-\x{1E06D}\x{1E4D0}-\x{1E4EB}\x{1E4F0}-\x{1E4F9}\x{2B739}\x{31350}-\x{323AF}]')
                 THEN length(text) - length(regexp_replace(text, '[\x{1123F}-\x{11240}\x{11F02}\x{11F04}-\x{11F10}\x{11F12}-\x{11F33}\x{11F50}-\x{11F59}\x{1342F}\x{13441}-\x{13446}\x{1B132}\x{1B155}\x{1D2C0}-\x{1D2D3}\x{1DF25}-\x{1DF2A}\x{1E030}-\x{1E06D}\x{1E4D0}-\x{1E4EB}\x{1E4F0}-\x{1E4F9}\x{2B739}\x{31350}-\x{323AF}]+', '', 'g'))
                 ELSE 0 END AS n_alnum,
        length(text) - length(regexp_replace(text, '[' || getvariable('sp') || ']+', '', 'g')) AS n_special,
        -- refined lower-cased words (Python lower(): final sigma, then 'İ')
        regexp_extract_all(
            lower(replace(
                CASE WHEN contains(text, 'Σ') THEN regexp_replace(text,
                    -- (cased, not case-ignorable)(case-ignorable*) Σ (case-ignorable*)(neither | end)
                    '([\p{Lu}\p{Ll}\p{Lt}\x{AA}\x{BA}\x{2160}-\x{217F}\x{24B6}-\x{24E9}\x{1F130}-\x{1F149}\x{1F150}-\x{1F169}\x{1F170}-\x{1F189}])'
                    || '([\p{Mn}\p{Me}\p{Cf}\p{Lm}\p{Sk}''.:\x{B7}\x{387}\x{55F}\x{5F4}\x{2018}\x{2019}\x{2024}\x{2027}\x{FE13}\x{FE52}\x{FE55}\x{FF07}\x{FF0E}\x{FF1A}]*)'
                    || 'Σ'
                    || '([\p{Mn}\p{Me}\p{Cf}\p{Lm}\p{Sk}''.:\x{B7}\x{387}\x{55F}\x{5F4}\x{2018}\x{2019}\x{2024}\x{2027}\x{FE13}\x{FE52}\x{FE55}\x{FF07}\x{FF0E}\x{FF1A}]*)'
                    || '([^\p{Lu}\p{Ll}\p{Lt}\x{AA}\x{BA}\x{2160}-\x{217F}\x{24B6}-\x{24E9}\x{1F130}-\x{1F149}\x{1F150}-\x{1F169}\x{1F170}-\x{1F189}'
                    ||   '\p{Mn}\p{Me}\p{Cf}\p{Lm}\p{Sk}''.:\x{B7}\x{387}\x{55F}\x{5F4}\x{2018}\x{2019}\x{2024}\x{2027}\x{FE13}\x{FE52}\x{FE55}\x{FF07}\x{FF0E}\x{FF1A}]|$)',
                    '\1\2ς\3\4', 'g')
                ELSE text END,
                'İ', 'i̇')),
            getvariable('word_re')) AS lw
    FROM docs
),
-- ---------------------------------------------------------------- char 10-grams
chunks AS (
    SELECT id, regexp_extract_all(text, '(?s).{1,10}') AS ch
    FROM base WHERE n >= 10
),
chunk_pairs AS (   -- chunk k glued to chunk k+1 (the last one alone)
    SELECT id, unnest(ch) || coalesce(unnest(ch[2:]), '') AS pair
    FROM chunks
),
char_grams AS (
    SELECT id, substring(pair, o, 10) AS g
    FROM chunk_pairs, range(1, 11) r(o)
    WHERE length(pair) >= o + 9
),
char_freq AS (
    SELECT id, g, count(*) AS cnt FROM char_grams GROUP BY id, g
),
char_rep AS (
    SELECT id,
           list_sum(list_slice(
               list_reverse_sort(list(cnt) FILTER (WHERE cnt > 1)),
               1,
               least(floor(sqrt(count(*)))::BIGINT, count(*) FILTER (WHERE cnt > 1))))
             / sum(cnt)::DOUBLE AS char_rep_ratio
    FROM char_freq GROUP BY id
),
-- ---------------------------------------------------------------- word 10-grams
word_grams AS (
    SELECT id,
           unnest(lw[1:len(lw) - 9]) AS w1, unnest(lw[2:len(lw) - 8]) AS w2,
           unnest(lw[3:len(lw) - 7]) AS w3, unnest(lw[4:len(lw) - 6]) AS w4,
           unnest(lw[5:len(lw) - 5]) AS w5, unnest(lw[6:len(lw) - 4]) AS w6,
           unnest(lw[7:len(lw) - 3]) AS w7, unnest(lw[8:len(lw) - 2]) AS w8,
           unnest(lw[9:len(lw) - 1]) AS w9, unnest(lw[10:len(lw)])    AS w10
    FROM base WHERE len(lw) >= 10
),
word_freq AS (
    SELECT id, count(*) AS cnt
    FROM word_grams GROUP BY id, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10
),
word_rep AS (
    SELECT id, coalesce(sum(cnt) FILTER (WHERE cnt > 1), 0) / sum(cnt)::DOUBLE AS word_rep_ratio
    FROM word_freq GROUP BY id
),
-- ---------------------------------------------------------------- word lists
words AS (
    SELECT id, unnest(lw) AS w FROM base
),
word_lists AS (
    SELECT id,
           count(*) FILTER (WHERE w IN (SELECT word FROM stopwords))     AS n_stop,
           count(*) FILTER (WHERE w IN (SELECT word FROM flagged_words)) AS n_flag
    FROM words GROUP BY id
)
SELECT
    b.id,
    b.n AS text_len,
    CASE WHEN b.n = 0 THEN 0.0 ELSE b.n_alnum / b.n::DOUBLE END AS alnum_ratio,
    CASE WHEN b.n = 0 THEN 0.0 ELSE b.n_special / b.n::DOUBLE END AS special_char_ratio,
    coalesce(c.char_rep_ratio, 0.0) AS char_rep_ratio,
    coalesce(r.word_rep_ratio, 0.0) AS word_rep_ratio,
    CASE WHEN regexp_matches(b.text, getvariable('case_flip_re'))
         THEN len(regexp_extract_all(b.text, getvariable('word_re')))
         ELSE len(b.lw) END AS num_words,
    CASE WHEN len(b.lw) = 0 THEN 0.0 ELSE least(coalesce(l.n_stop, 0) / len(b.lw)::DOUBLE, 1.0) END AS stopwords_ratio,
    CASE WHEN len(b.lw) = 0 THEN 0.0 ELSE least(coalesce(l.n_flag, 0) / len(b.lw)::DOUBLE, 1.0) END AS flagged_words_ratio
FROM base b
LEFT JOIN char_rep   c USING (id)
LEFT JOIN word_rep   r USING (id)
LEFT JOIN word_lists l USING (id);

RESET VARIABLE sp;
RESET VARIABLE word_re;
RESET VARIABLE case_flip_re;
