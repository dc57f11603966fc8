"""Data-Juicer's own published test expectations for 14 text operators.

Plain data module: no imports of juicedb, no test functions.  Transcribed
from the unit tests in the Data-Juicer repository (modelscope/data-juicer,
``tests/ops/...``); every case below was also re-run through Data-Juicer
1.6.1's own operator code (emoji==2.2.0, ftfy 6.3.1, word lists from
/work/shared/data/wordlists) and agreed with the expectation, see
"Verification" at the bottom.

Case shapes::

    (case_id, dj_op_name, dj_params_dict, input_texts, expected)

    FILTER_CASES: expected = dict(kept=[texts kept, in order],
                                  stats=[stat per input, or None where
                                         neither the DJ test nor OPS.md
                                         states a value])
    MAPPER_CASES: expected = [output text per input]
    DEDUP_CASES:  expected = dict(kept=[texts kept, in order])

Params use DJ names and only the operator's own parameters; DJ runtime
options used by the tests (batch_size, num_proc) and the deduplicator's
``process(show_num=...)`` argument are left out.

Stat values that come from /work/shared/OPS.md ("DJ's own test
expectations") are given to 4 decimals there: compare them with
``STATS_ABS_TOL``.  ``DJ_COMPUTED_STATS`` (bottom) holds the full-precision
values that DJ 1.6.1 computed for every filter input, for exact comparison.

Skipped (need a tokenizer / sentencepiece model or a model download):
  - test_word_repetition_filter.py::test_zh_case      (lang='zh', tokenization=True)
  - test_alphanumeric_filter.py::test_token_case      (tokenization=True, HF tokenizer)
  - test_word_num_filter.py::test_zh_case             (lang='zh', tokenization=True)
  - test_stop_words_filter.py::test_zh_case           (lang='zh', tokenization=True, use_words_aug)
  - test_flagged_words_filter.py::test_zh_case        (lang='zh', tokenization=True, use_words_aug)
The English stopwords/flagged-words tests normally download DJ's word-list
assets; here they were run with stopwords_dir / flagged_words_dir pointing
at /work/shared/data/wordlists and gave the published result.
"""

STATS_ABS_TOL = 1e-4

# Shared DJ test strings.
_PUNCT = "，。、„”“«»１」「《》´∶：？！（）；–—．～’…━〈〉【】％►"
_EMOJI = "emoji表情测试下😊，😸31231"

FILTER_CASES = [
    # tests/ops/filter/test_special_characters_filter.py
    #   SpecialCharactersFilterTest.test_case
    # stats from OPS.md: 0.2432 kept, 0.25 kept (closed bound), 0.4444 dropped
    (
        "special_characters_filter/test_case",
        "special_characters_filter",
        {"min_ratio": 0.0, "max_ratio": 0.25},
        [
            "Today is Sunday and it's a happy day!",
            "Today is Sund Sund Sund Sund Sunda and it's a happy day!",
            "a v s e c s f e f g a qkc",
            _PUNCT,
            "Do you need a cup of coffee?",
            _EMOJI,
        ],
        {
            "kept": [
                "Today is Sunday and it's a happy day!",
                "Today is Sund Sund Sund Sund Sunda and it's a happy day!",
                "Do you need a cup of coffee?",
            ],
            "stats": [0.2432, None, None, None, 0.25, 0.4444],
        },
    ),
    # tests/ops/filter/test_character_repetition_filter.py
    #   CharacterRepetitionFilterTest.test_case
    # stat from OPS.md: 'a v s e c s f e f g a a a a a a a a a a' -> 0.4571, dropped
    (
        "character_repetition_filter/test_case",
        "character_repetition_filter",
        {"rep_len": 5, "min_ratio": 0.0, "max_ratio": 0.4},
        [
            "Today is Sund Sund Sund Sund Sund Sunda and it's a happy day!",
            "a v s e c s f e f g a a a a a a a a a a",
            _PUNCT,
            "中文也是一个字算一个长度",
        ],
        {
            "kept": [
                _PUNCT,
                "中文也是一个字算一个长度",
            ],
            "stats": [None, 0.4571, None, None],
        },
    ),
    # tests/ops/filter/test_word_repetition_filter.py
    #   WordRepetitionFilterTest.test_en_case
    # stats from OPS.md: 0.3, 0, 0.2727, 0, 0
    (
        "word_repetition_filter/test_en_case",
        "word_repetition_filter",
        {"rep_len": 3, "min_ratio": 0.0, "max_ratio": 0.2},
        [
            "Today is Sunday Sunday Sunday Sunday Sunday and it's a happy day!",
            "Today is Sunday Sunday Sunday and it's a happy day!",
            "Today is Sund Sund Sund Sund Sund Sunda and it's a happy day!",
            "plusieurs èrdash@hqbchd.ckd d'accéder à ces wwwasdasd fonc",
            "This proposed a novel proposed pretraining proposed pretraining.",
        ],
        {
            "kept": [
                "Today is Sunday Sunday Sunday and it's a happy day!",
                "plusieurs èrdash@hqbchd.ckd d'accéder à ces wwwasdasd fonc",
                "This proposed a novel proposed pretraining proposed pretraining.",
            ],
            "stats": [0.3, 0.0, 0.2727, 0.0, 0.0],
        },
    ),
    # tests/ops/filter/test_alphanumeric_filter.py
    #   AlphanumericFilterTest.test_case  (op also given batch_size=3, num_proc=1)
    (
        "alphanumeric_filter/test_case",
        "alphanumeric_filter",
        {"min_ratio": 0.2, "max_ratio": 0.9},
        [
            "a=1\nb\nc=1+2+3+5\nd=6",
            "Today is Sund Sund Sund Sunda and it's a happy day!\nYou know",
            "a v s e e f g a qkc",
            _PUNCT,
            "Do you need a cup of coffee?",
            "emoji表情测试下😊，😸31231\n",
        ],
        {
            "kept": [
                "a=1\nb\nc=1+2+3+5\nd=6",
                "Today is Sund Sund Sund Sunda and it's a happy day!\nYou know",
                "a v s e e f g a qkc",
                "Do you need a cup of coffee?",
                "emoji表情测试下😊，😸31231\n",
            ],
            "stats": [None, None, None, None, None, None],
        },
    ),
    # tests/ops/filter/test_word_num_filter.py
    #   WordsNumFilterTest.test_case  (op also given batch_size=2)
    (
        "words_num_filter/test_case",
        "words_num_filter",
        {"min_num": 5, "max_num": 15},
        [
            "Today is Sun",
            "Today is Sund Sund Sund Sund Sund Sunda and it's a happy day!",
            "a v s e c s f e f g a a a  ",
            _PUNCT,
        ],
        {
            "kept": [
                "Today is Sund Sund Sund Sund Sund Sunda and it's a happy day!",
                "a v s e c s f e f g a a a  ",
            ],
            "stats": [None, None, None, None],
        },
    ),
    # tests/ops/filter/test_stop_words_filter.py
    #   StopWordsFilterTest.test_en_case
    (
        "stopwords_filter/test_en_case",
        "stopwords_filter",
        {"lang": "en", "min_ratio": 0.3},
        [
            "Today is Sunday and it's a happy day!",
            "Today is Sund Sund Sund Sund Sunda and it's a happy day!",
            "a v s e c s f e f g a qkc",
            _PUNCT,
            "Do you need a cup of coffee?",
        ],
        {
            "kept": [
                "Today is Sunday and it's a happy day!",
                "Today is Sund Sund Sund Sund Sunda and it's a happy day!",
                "Do you need a cup of coffee?",
            ],
            "stats": [None, None, None, None, None],
        },
    ),
    # tests/ops/filter/test_flagged_words_filter.py
    #   FlaggedWordFilterTest.test_en_case
    (
        "flagged_words_filter/test_en_case",
        "flagged_words_filter",
        {"lang": "en", "max_ratio": 0.045},
        [
            "Today is anal cumshot day",
            "Fuck you doggystyle!",
            _PUNCT,
            "Do you need a cup of coffee?",
            "emoji表情测试下😊，😸31231\n",
        ],
        {
            "kept": [
                _PUNCT,
                "Do you need a cup of coffee?",
                "emoji表情测试下😊，😸31231\n",
            ],
            "stats": [None, None, None, None, None],
        },
    ),
    # tests/ops/filter/test_text_length_filter.py
    #   TextLengthFilterTest.test_case
    # stats from OPS.md: 'Today is' (8) dropped; the 61-char sentence dropped
    (
        "text_length_filter/test_case",
        "text_length_filter",
        {"min_len": 10, "max_len": 50},
        [
            "Today is",
            "Today is Sund Sund Sund Sund Sund Sunda and it's a happy day!",
            "a v s e c s f e f g a a a  ",
            _PUNCT,
            "中文也是一个字算一个长度",
        ],
        {
            "kept": [
                "a v s e c s f e f g a a a  ",
                _PUNCT,
                "中文也是一个字算一个长度",
            ],
            "stats": [8, 61, None, None, None],
        },
    ),
]

# The mojibake string of test_fix_unicode_mapper.py is U+2019 (’) put
# through "encode utf-8, decode cp1252" three times; kept literally here.
_MONA_LISA = "The Mona Lisa doesnÃƒÂ¢Ã¢â€šÂ¬Ã¢â€žÂ¢t have eyebrows."

MAPPER_CASES = [
    # tests/ops/mapper/test_whitespace_normalization_mapper.py
    #   WhitespaceNormalizationMapperTest.test_case
    # The DJ source file holds the characters literally; between '\t' and
    # U+3000 they are the 14 of DJ's VARIOUS_WHITESPACES (U+2000..U+200A,
    # U+00A0, U+202F, U+205F), written here as escapes in the order of
    # that set (the order does not change the result).  Output: 'x', 23
    # spaces, 'y'.
    (
        "whitespace_normalization_mapper/test_case",
        "whitespace_normalization_mapper",
        {},
        [
            "x \t"
            "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
            "\u00a0\u202f\u205f"
            "\u3000\u200b\u200c\u200d\u2060\ufffc\u0084y",
        ],
        ["x" + " " * 23 + "y"],
    ),
    # tests/ops/mapper/test_punctuation_normalization_mapper.py
    #   PunctuationNormalizationMapperTest.test_case
    (
        "punctuation_normalization_mapper/test_case",
        "punctuation_normalization_mapper",
        {},
        [_PUNCT],
        [',.,""""""""""\'::?!();- - . ~\'...-<>[]%-'],
    ),
    # tests/ops/mapper/test_fix_unicode_mapper.py
    #   FixUnicodeMapperTest.test_bad_unicode_text
    (
        "fix_unicode_mapper/test_bad_unicode_text",
        "fix_unicode_mapper",
        {},
        ["âœ” No problems", _MONA_LISA],
        ["✔ No problems", "The Mona Lisa doesn't have eyebrows."],
    ),
    # tests/ops/mapper/test_fix_unicode_mapper.py
    #   FixUnicodeMapperTest.test_good_unicode_text
    (
        "fix_unicode_mapper/test_good_unicode_text",
        "fix_unicode_mapper",
        {},
        ["No problems", "阿里巴巴"],
        ["No problems", "阿里巴巴"],
    ),
    # tests/ops/mapper/test_clean_email_mapper.py
    #   CleanEmailMapperTest.test_clean_email
    (
        "clean_email_mapper/test_clean_email",
        "clean_email_mapper",
        {},
        [
            "happy day euqdh@cjqi.com",
            "请问你是谁dasoidhao@1264fg.45om",
            "ftp://examplema-nièrdash@hqbchd.ckdhnfes.cds",
            "👊23da44sh12@46hqb12chd.ckdhnfes.comd.dasd.asd.dc",
        ],
        [
            "happy day ",
            "请问你是谁dasoidhao@1264fg.45om",
            "ftp://examplema-niè",
            "👊",
        ],
    ),
    # tests/ops/mapper/test_clean_email_mapper.py
    #   CleanEmailMapperTest.test_replace_email
    (
        "clean_email_mapper/test_replace_email",
        "clean_email_mapper",
        {"repl": "<EMAIL>"},
        [
            "happy day euqdh@cjqi.com",
            "请问你是谁dasoidhao@1264fg.45om",
            "ftp://examplema-nièrdash@hqbchd.ckdhnfes.cds",
            "👊23da44sh12@46hqb12chd.ckdhnfes.comd.dasd.asd.dc",
        ],
        [
            "happy day <EMAIL>",
            "请问你是谁dasoidhao@1264fg.45om",
            "ftp://examplema-niè<EMAIL>",
            "👊<EMAIL>",
        ],
    ),
    # tests/ops/mapper/test_clean_links_mapper.py
    #   CleanLinksMapperTest.test_lower_ftp_links_text
    (
        "clean_links_mapper/test_lower_ftp_links_text",
        "clean_links_mapper",
        {},
        [
            "ftp://user:password@ftp.example.com:21/",
            "ftp://www.example.com/path/to/file.txt",
            "ftp://example.com/my-page.html",
            "ftp://example.com",
        ],
        ["", "", "", ""],
    ),
    # tests/ops/mapper/test_clean_links_mapper.py
    #   CleanLinksMapperTest.test_upper_ftp_links_text
    (
        "clean_links_mapper/test_upper_ftp_links_text",
        "clean_links_mapper",
        {},
        [
            "FTP://user:password@ftp.example.COm:21/",
            "FTP://www.example.com/path/to/file.txt",
            "Ftp://example.com/my-page.HTMl",
            "FTP://EXAMPLE.COM",
        ],
        ["", "", "", ""],
    ),
    # tests/ops/mapper/test_clean_links_mapper.py
    #   CleanLinksMapperTest.test_lower_https_links_text
    (
        "clean_links_mapper/test_lower_https_links_text",
        "clean_links_mapper",
        {},
        [
            "https://www.example.com/file.html?param1=value1&param2=value2",
            "https://example.com/my-page.html?param1=value1&param2=value2",
            "https://example.com",
        ],
        ["", "", ""],
    ),
    # tests/ops/mapper/test_clean_links_mapper.py
    #   CleanLinksMapperTest.test_upper_https_links_text
    (
        "clean_links_mapper/test_upper_https_links_text",
        "clean_links_mapper",
        {},
        [
            "hTTps://www.example.com/file.html?param1=value1&param2=value2",
            "HttpS://example.Com/my-page.HTML?param1=value1&param2=value2",
            "HTTPS://EXAMPLE.COM",
        ],
        ["", "", ""],
    ),
    # tests/ops/mapper/test_clean_links_mapper.py
    #   CleanLinksMapperTest.test_mixed_https_links_text
    (
        "clean_links_mapper/test_mixed_https_links_text",
        "clean_links_mapper",
        {},
        [
            "This is a test,https://www.example.com/file.html?param1=value1&param2=value2",
            "这是个测试,https://example.com/my-page.html?param1=value1&param2=value2",
            "这是个测试,https://example.com",
        ],
        ["This is a test,", "这是个测试,", "这是个测试,"],
    ),
    # tests/ops/mapper/test_clean_links_mapper.py
    #   CleanLinksMapperTest.test_lower_http_links_text
    (
        "clean_links_mapper/test_lower_http_links_text",
        "clean_links_mapper",
        {},
        [
            "http://example.com/my-page.html?param1=value1&param2=value2",
            "http://www.example.com/file.html?param1=value1&param2=value2",
            "https://example.com",
        ],
        ["", "", ""],
    ),
    # tests/ops/mapper/test_clean_links_mapper.py
    #   CleanLinksMapperTest.test_upper_http_links_text
    (
        "clean_links_mapper/test_upper_http_links_text",
        "clean_links_mapper",
        {},
        [
            "HTTP://example.com/my-page.html?param1=value1&param2=value2",
            "hTTp://www.example.com/file.html?param1=value1&param2=value2",
            "HTTPS://EXAMPLE.COM",
        ],
        ["", "", ""],
    ),
    # tests/ops/mapper/test_clean_links_mapper.py
    #   CleanLinksMapperTest.test_mixed_http_links_text
    (
        "clean_links_mapper/test_mixed_http_links_text",
        "clean_links_mapper",
        {},
        [
            "This is a test,http://www.example.com/file.html?param1=value1&param2=value2",
            "这是个测试,http://example.com/my-page.html?param1=value1&param2=value2",
            "这是个测试,https://example.com",
        ],
        ["This is a test,", "这是个测试,", "这是个测试,"],
    ),
    # tests/ops/mapper/test_clean_links_mapper.py
    #   CleanLinksMapperTest.test_email_text
    (
        "clean_links_mapper/test_email_text",
        "clean_links_mapper",
        {},
        [
            "This is a sample@example for test",
            "这是一个测试, sample@example",
        ],
        [
            "This is a sample@example for test",
            "这是一个测试, sample@example",
        ],
    ),
    # tests/ops/mapper/test_clean_links_mapper.py
    #   CleanLinksMapperTest.test_fake_links_text
    (
        "clean_links_mapper/test_fake_links_text",
        "clean_links_mapper",
        {},
        [
            "abcd:/e f is a sample for test",
            "abcd://ef is a sample for test",
            "This is a test,http测试://www.example.com/file.html?param1=value1",
            "This is a test,http://www.测试.com/path/file.html?param1=value1&param2=value2",
        ],
        [
            "abcd:/e f is a sample for test",
            " is a sample for test",
            "This is a test,",
            "This is a test,",
        ],
    ),
    # tests/ops/mapper/test_clean_links_mapper.py
    #   CleanLinksMapperTest.test_no_link_text
    (
        "clean_links_mapper/test_no_link_text",
        "clean_links_mapper",
        {},
        [
            "This is a sample for test",
            "这是一个测试",
            _PUNCT,
        ],
        [
            "This is a sample for test",
            "这是一个测试",
            _PUNCT,
        ],
    ),
    # tests/ops/mapper/test_clean_links_mapper.py
    #   CleanLinksMapperTest.test_replace_links_text
    (
        "clean_links_mapper/test_replace_links_text",
        "clean_links_mapper",
        {"repl": "<LINKS>"},
        [
            "ftp://user:password@ftp.example.com:21/",
            "This is a sample for test",
            "abcd://ef is a sample for test",
            "HTTP://example.com/my-page.html?param1=value1&param2=value2",
        ],
        [
            "<LINKS>",
            "This is a sample for test",
            "<LINKS> is a sample for test",
            "<LINKS>",
        ],
    ),
]

_SUNDAY = "Today is Sunday and it's a happy day!"
_SUNDAY_LC = "Today is sunday and it's a happy day!"
_COFFEE = "Do you need a cup of coffee?"
_PAPER = "This paper proposed a novel method on LLM pretraining."
_ZH_DOC = (
    "第九届会议\n2003年7月28日至8月8日\n牙买加金斯敦\n为来自发展中国家的法"
    "律和技术委员会以及财务委员会成员\n参加委员会会议支付费用的方式\n1."
)
_ZH_DOC_2 = (
    "第九届会议\n时间：2003年7月28日至8月8日\n牙买加金斯敦\n为来自发展中国家的法"
    "律和技术委员会以及财务委员会成员\n参加委员会会议支付费用的方式\n1."
)

DEDUP_CASES = [
    # tests/ops/deduplicator/test_document_deduplicator.py
    #   DocumentDeduplicatorTest.test_english_deduplication  (0 dup pairs)
    (
        "document_deduplicator/test_english_deduplication",
        "document_deduplicator",
        {"lowercase": False, "ignore_non_character": False},
        [_SUNDAY, _COFFEE, _SUNDAY_LC, _PAPER, _PAPER],
        {"kept": [_SUNDAY, _COFFEE, _SUNDAY_LC, _PAPER]},
    ),
    # tests/ops/deduplicator/test_document_deduplicator.py
    #   DocumentDeduplicatorTest.test_english_deduplication_with_params
    (
        "document_deduplicator/test_english_deduplication_with_params",
        "document_deduplicator",
        {"lowercase": True, "ignore_non_character": True},
        [
            _SUNDAY,
            _COFFEE,
            _SUNDAY_LC,
            "Today is sunday and it's a happy day?",
            _PAPER,
            _PAPER,
        ],
        {"kept": [_SUNDAY, _COFFEE, _PAPER]},
    ),
    # tests/ops/deduplicator/test_document_deduplicator.py
    #   DocumentDeduplicatorTest.test_chinese_deduplication
    (
        "document_deduplicator/test_chinese_deduplication",
        "document_deduplicator",
        {"lowercase": False, "ignore_non_character": False},
        ["你好，请问你是谁", "欢迎来到阿里巴巴！", _ZH_DOC, _ZH_DOC, _ZH_DOC_2],
        {"kept": ["你好，请问你是谁", "欢迎来到阿里巴巴！", _ZH_DOC, _ZH_DOC_2]},
    ),
    # tests/ops/deduplicator/test_document_deduplicator.py
    #   DocumentDeduplicatorTest.test_show_num
    # (process(dataset, show_num=1) also returns exactly 1 duplicate pair;
    # show_num is a process() argument, not an op param)
    (
        "document_deduplicator/test_show_num",
        "document_deduplicator",
        {"lowercase": False, "ignore_non_character": False},
        [_SUNDAY, _COFFEE, _SUNDAY_LC, _PAPER, _PAPER],
        {"kept": [_SUNDAY, _COFFEE, _SUNDAY_LC, _PAPER]},
    ),
]

# Full-precision stats computed by Data-Juicer 1.6.1's own operator code
# (compute_stats_batched on {'text': [...], '__dj__stats__': [{}, ...]})
# for every input of FILTER_CASES, in input order.  Not part of DJ's
# published tests; recorded when the cases above were verified.
# case_id -> (stat key, [values])
DJ_COMPUTED_STATS = {
    "special_characters_filter/test_case": (
        "special_char_ratio",
        [0.24324324324324326, 0.23214285714285715, 0.44, 0.8529411764705882, 0.25, 0.4444444444444444],
    ),
    "character_repetition_filter/test_case": (
        "char_rep_ratio",
        [0.45614035087719296, 0.45714285714285713, 0.0, 0.0],
    ),
    "word_repetition_filter/test_en_case": (
        "word_rep_ratio",
        [0.3, 0.0, 0.2727272727272727, 0.0, 0.0],
    ),
    "alphanumeric_filter/test_case": (
        "alnum_ratio",
        [0.5263157894736842, 0.7666666666666667, 0.5789473684210527, 0.029411764705882353, 0.75, 0.7894736842105263],
    ),
    "words_num_filter/test_case": (
        "num_words",
        [3, 13, 13, 1],
    ),
    "stopwords_filter/test_en_case": (
        "stopwords_ratio",
        [0.5, 0.3333333333333333, 0.16666666666666666, 0.0, 0.5714285714285714],
    ),
    "flagged_words_filter/test_en_case": (
        "flagged_words_ratio",
        [0.4, 0.3333333333333333, 0.0, 0.0, 0.0],
    ),
    "text_length_filter/test_case": (
        "text_len",
        [8, 61, 27, 34, 12],
    ),
}
