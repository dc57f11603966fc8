"""Eight more Data-Juicer text mappers, through juicedb's SQL functions.

(a) Data-Juicer's published test cases (modelscope/data-juicer,
``tests/ops/mapper/test_<op>.py``), transcribed; (b) conformance with the
outputs of Data-Juicer 1.6.1's own mapper code on 210 real and hand-made texts
(tests/fixtures/dj_golden/mappers_more.jsonl, made by make_mappers_more.py).

Skipped: remove_words_with_incorrect_substrings_mapper's ``test_zh_case``
(``tokenization=True`` needs DJ's sentencepiece model, a download; juicedb
rejects ``tokenization := true`` at compile time, tested below).
"""

from __future__ import annotations

import json

import pytest

import juicedb.udfs.text.clean_copyright
import juicedb.udfs.text.clean_html
import juicedb.udfs.text.expand_macro
import juicedb.udfs.text.remove_bibliography
import juicedb.udfs.text.remove_comments
import juicedb.udfs.text.remove_header
import juicedb.udfs.text.remove_long_words
import juicedb.udfs.text.remove_words_with_incorrect_substrings  # noqa: F401  (registration happens on import)
from juicedb.errors import ParamError
from juicedb.registry import get_op
from juicedb.udfs.common.text import TextBatch
from tests.conftest import FIXTURES

# LaTeX document of DJ's remove_header / remove_comments tests (the same text in both)
SIGCONF = (
    "%%\n%% This is file `sample-sigconf.tex',\n%% The first command in your LaTeX source must be the \\documentclass command.\n\\documentclass[sigconf,review,anonymous]{acmart}\n%% NOTE that a single column version is required for \n%% submission and peer review. This can be done by changing\n\\input{math_commands.tex}\n%% end of the preamble, start of the body of the document source.\n\\begin{document}\n%% The \"title\" command has an optional parameter,\n\\title{Hierarchical Cross Contrastive Learning of Visual Representations}\n%%\n%% The \"author\" command and its associated commands are used to define\n%% the authors and their affiliations.\n\\author{Hesen Chen}\n\\affiliation{%\n  \\institution{Alibaba Group}\n  \\city{Beijing}\n  \\country{China}}\n\\email{hesen.chs@alibaba-inc.com}\n%% By default, the full list of authors will be used in the page\n\\begin{abstract}The rapid\n\\end{abstract}\n\\begin{CCSXML}\n\\ccsdesc[500]{Computing methodologies~Image representations}\n%% Keywords. The author(s) should pick words that accurately describe\n\\keywords{self-supervised,  ontrastive Learning, hierarchical projection, cross-level}\n%% page.\n\\begin{teaserfigure}\n\\end{teaserfigure}\n%% This command processes the author and affiliation and title\n\\maketitle\n"
)
SIGCONF_BODY = (
    "\\section{Introduction}\n\\begin{itemize}\n\\end{itemize}\n\\section{Related Work}\n\\label{gen_inst} Self-supervised\n\\section{Method}\n\\label{method}In this section,\n\\subsection{Framework} kkk\n\\subsection{Cross Contrastive Loss}\nSince $\\sZ^n$ are extracted\n\\subsection{Implementation details}\n\\textbf{Image augmentations} We use\n\\textbf{Architecture} We use\n\\textbf{Optimization} We adapt \n\\section{Experiments}\n\\label{experiments}In this section\n\\subsection{Linear and Semi-Supervised Evaluations on ImageNet}\n\\textbf{Linear evaluation on ImageNet} We firs\n\\textbf{Semi-supervised learning on ImageNet} We simply\n\\subsection{Transfer to other datasets and tasks}\n\\textbf{Image classification with fixed features} We follow\n\\section{Ablations} We present\n\\subsection{Influence of hierarchical projection head and cross contrastive loss} get out\n\\subsection{Levels and depth of projector network}\n\\end{center}\n\\caption{\\label{figure3} \\textbf{Different way of cross-correlation on 3 level hierarchical projection head.} '=' denotes stop gradient.}\n\\end{figure}\n\\subsection{Analyze of} In this\n\\textbf{Similarity between} Using SimSiam\n\\textbf{Feature similarity} We extracted\n\\section{Conclusion}\nWe propose HCCL\n\\clearpage\n\\bibliographystyle{ACM-Reference-Format}\n\\bibliography{sample-base}\n\\end{document}\n\\endinput\n"
)
SIGCONF_TAIL = "%%\n%% End of file `sample-sigconf.tex'.\n"
SIGCONF_NO_COMMENTS = (
    "\\documentclass[sigconf,review,anonymous]{acmart}\n\\input{math_commands.tex}\n\\begin{document}\n\\title{Hierarchical Cross Contrastive Learning of Visual Representations}\n\\author{Hesen Chen}\n\\affiliation{%\n  \\institution{Alibaba Group}\n  \\city{Beijing}\n  \\country{China}}\n\\email{hesen.chs@alibaba-inc.com}\n\\begin{abstract}The rapid\n\\end{abstract}\n\\begin{CCSXML}\n\\ccsdesc[500]{Computing methodologies~Image representations}\n\\keywords{self-supervised,  ontrastive Learning, hierarchical projection, cross-level}\n\\begin{teaserfigure}\n\\end{teaserfigure}\n\\maketitle\n"
)

# DJ's expand_macro test: a preamble with macros; only \theHalgorithm and \alambic are argument-less one-liners
MACRO_PREAMBLE = (
    "\\documentclass{article}\n% Recommended, but optional, packages for figures and better typesetting:\n\\usepackage{microtype}\n\\usepackage{graphicx}\n\n% Attempt to make hyperref and algorithmic work together better:\n{theHalgorithm}\n% For theorems and such\n\\usepackage{amsmath}\n\n%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%\n% THEOREMS\n%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%\n\\theoremstyle{plain}\n\\newtheorem{lemma}[theorem]{Lemma}\n\\newtheorem{corollary}[theorem]{Corollary}\n\\theoremstyle{definition}\n\n\\usepackage[textsize=small]{todonotes}\n\\setuptodonotes{inline}\n\n\\usepackage{makecell}\n\\newcommand{\\cmark}{\\ding{51}\\xspace}%\n\\newcommand{\\xmark}{\\ding{55}\\xspace}%\n\n{alambic}\n\n\\newcommand\\binke[1]{{\\color{blue} \\footnote{\\color{blue}binke: #1}} }\n\\newcommand\\Zerocost{Zero-cost}\n\\newcommand\\imagenet{ImageNet}\n\n\\begin{document}\n\n\\begin{abstract}\nThe wide\n\\end{abstract}\n\\section{Introduction}\n\\label{introduction}\nThe main contributions are summarized as follows:\n\\section{Background and Related Work}\\label{background}\n\\subsection{One-Shot NAS} In one-shot NAS\n\\section{PreNAS}\\label{method}In this\n\\subsection{One-Shot NAS with Preferred Learning}\nIn the specialization stage, the optimal architectures under given  resource constraints can be directly obtained:\n\\begin{equation}\n\\widetilde{\\mathcal{A}}^* = \\widetilde{\\mathcal{A}} .\n\\end{equation}\n\\subsection{Zero-Cost Transformer Selector}\\label{sub:layerNorm}\n\\subsection{Performance Balancing} We discuss\n\\section{Experiments}\\label{experiments}\n\\subsection{Setup}\n\\subsection{Main Results}\\label{sec:sota}\n\\subsection{Analysis and Ablation study}\\label{ablation}\n\\begin{figure}[t]\n\\vskip 0.1in\n    \\centering\n    \\subfigure[Search spaces]{\\includegraphics[width=0.36\\linewidth]{img/search_space.pdf}\\label{fg:search_space:a}}%\n    \\hfil%\n    \\subfigure[Error distributions]{\\includegraphics[width=0.58\\linewidth]{img/cumulation.pdf}\\label{fg:search_space:b}}\n    \\caption{Model quality}\n\\vskip -0.1in\n\\end{figure}\n\\paragraph{Effect of Performance Balancing} During\n\\subsection{Transfer Learning Results}\n\\subsection{CNN Results} in terms of similar FLOPs.\n\\FloatBarrier\n\\section{Conclusion}\\label{conclusion} In this\n% Acknowledgements should only appear in the accepted version.\n\\bibliography{ref}\n\\bibliographystyle{icml2023}\n\\clearpage\n\\appendix\n\\onecolumn\n\\section{Statistical}\n\\label{appendix:snipAnalysis} We analyze\n\\section{The Greedy Algorithm}\n\\label{appendix:greedy}\n\\section{Regularization \\& Data Augmentation}\\label{appendix:aug}\n\\renewcommand{\\arraystretch}{1.2}\n\\end{document}\n"
)
MACRO_IN = MACRO_PREAMBLE.replace("{theHalgorithm}", "\\newcommand{\\theHalgorithm}{\\arabic{algorithm}}").replace(
    "{alambic}", "\\def \\alambic {\\includegraphics[height=1.52ex]{img/alembic-crop.pdf}\\xspace}")
MACRO_OUT = MACRO_PREAMBLE.replace("{theHalgorithm}", "\\newcommand{\\arabic{algorithm}}{\\arabic{algorithm}}").replace(
    "{alambic}", "\\def \\includegraphics[height=1.52ex]{img/alembic-crop.pdf}\\xspace "
                 "{\\includegraphics[height=1.52ex]{img/alembic-crop.pdf}\\xspace}")

# (case id, DJ op, params, [(input, expected)])
DJ_CASES = [
    ("clean_copyright", "clean_copyright_mapper", {}, [
        ("这是一段 /* 多行注释\n注释内容copyright\n*/ 的文本。另外还有一些 // 单行注释。",
         "这是一段  的文本。另外还有一些 // 单行注释。"),
        ("如果多行/*注释中没有\n关键词,那么\n这部分注释也不会\n被清除*/\n会保留下来",
         "如果多行/*注释中没有\n关键词,那么\n这部分注释也不会\n被清除*/\n会保留下来"),
        ("//if start with\n//that will be cleaned \n evenly", " evenly"),
        ("http://www.nasosnsncc.com", "http://www.nasosnsncc.com"),
        ("#if start with\nthat will be cleaned \n#evenly", "that will be cleaned \n#evenly"),
        ("--if start with\n--that will be cleaned \n#evenly", ""),
    ]),
    ("clean_html-complete", "clean_html_mapper", {}, [
        ('<header><nav><ul><tile>测试</title><li><a href="#">Home</a></li><li><a href="#">About</a></li>'
         '<li><a href="#">Services</a></li><li><a href="#">Contact</a></li></ul></nav></header>'
         "<main><h1>Welcome to My Website</h1><p>Lorem ipsum dolor sit amet, consectetur adipiscing elit."
         "<button>Learn More</button></main><footer><p>&copy; 2021 My Website. All Rights Reserved.</p></footer>",
         "测试\n*Home\n*About\n*Services\n*ContactWelcome to My WebsiteLorem ipsum dolor sit amet, consectetur "
         "adipiscing elit.Learn More© 2021 My Website. All Rights Reserved."),
    ]),
    ("clean_html-en", "clean_html_mapper", {}, [
        ("<p>This is a test</p>", "This is a test"),
        ("<a href='https://www.example.com/file.html?;name=Test' rel='noopener noreferrer' target='_blank'>Test</a>",
         "Test"),
        ('<p>This is a test</p><div class="article-content"><div><p>This is a test</p><p>This is a test</p>'
         "<p><span>Test</span>：This is a test</p><p><span>Test</span>：This is a test</p></div></div><p></p><div></div>",
         "This is a testThis is a testThis is a testTest：This is a testTest：This is a test"),
    ]),
    ("clean_html-zh", "clean_html_mapper", {}, [
        ("<p>这是个测试</p>", "这是个测试"),
        ("<a href='https://www.example.com/file.html?;name=Test' rel='noopener noreferrer' target='_blank'>测试</a>",
         "测试"),
        ('<p>这是1个测试。</p><div class="article-content"><div><p>这是2个测试。</p><p>这是3个测试。</p>'
         "<p><span>测试</span>：这是4个测试。</p><p><span>测试</span>：这是5个测试。</p></div></div><p></p><div></div>",
         "这是1个测试。这是2个测试。这是3个测试。测试：这是4个测试。测试：这是5个测试。"),
    ]),
    ("clean_html-no_html", "clean_html_mapper", {}, [
        ("This is a test", "This is a test"), ("这是个测试", "这是个测试"), ("12345678", "12345678"),
    ]),
    ("clean_html-fake_html", "clean_html_mapper", {}, [
        ("This is a test</p>", "This is a test"),
        ("<p>这是个测试", "这是个测试"),
        ("<kkkeabcd>hello</kkkeabcd>", "hello"),
        ("<a1bcd>这是个测试</a1bcd>", "这是个测试"),
        ("<测试>这是个测试</测试>", "<测试>这是个测试"),
        ('abc="https://www.example.com/file.html?name=Test" 测试', 'abc="https://www.example.com/file.html?name=Test" 测试'),
        ('href="https://www.example.com/file.html;name=Test">测试', 'href="https://www.example.com/file.html;name=Test">测试'),
        ('<abc="https://www.example.com/file.html?name=Test">测试', "测试"),
    ]),
    ("clean_html-whitespace", "clean_html_mapper", {}, [
        ("    ", ""), ("", ""), ("    This is a test", "This is a test"), ("    This is a test  ", "This is a test  "),
    ]),
    ("clean_html-only_list", "clean_html_mapper", {}, [
        ("<li>Apple</li>", "*Apple"), ("<li>苹果</li>", "*苹果"), ("<ol>Apple</ol>", "*Apple"), ("<ol>苹果</ol>", "*苹果"),
    ]),
    ("remove_long_words-normal", "remove_long_words_mapper", {"min_len": 3, "max_len": 15}, [
        ("This paper proposed novel method LLM pretraining.", "This paper proposed novel method LLM pretraining."),
    ]),
    ("remove_long_words-long_short", "remove_long_words_mapper", {"min_len": 3, "max_len": 15}, [
        ("This paper a novel eqeqweqwewqeqwe121e1 method on LLM pretrain.", "This paper novel method LLM pretrain."),
        ("Sur la plateforme MT4, manières à ces fonctionnalités sont conçu",
         "Sur plateforme MT4, manières ces fonctionnalités sont conçu"),
    ]),
    ("remove_long_words-special", "remove_long_words_mapper", {"min_len": 3, "max_len": 15}, [
        ("This paper proposed a novel eqeqweqwewqenhq😊😠 method on LLM.",
         "This paper proposed novel eqeqweqwewqenhq😊😠 method LLM."),
        ("Sur la plateforme MT4, plusieurs manières d'accéder0123813976125",
         "Sur plateforme MT4, plusieurs manières d'accéder0123813976125"),
        ("The Mona Lisa doesnÃƒÂ¢Ã¢â€šÂ¬Ã¢â€žÂ¢t have eyebrows.", "The Mona Lisa have eyebrows."),
    ]),
    ("remove_header", "remove_header_mapper", {}, [(SIGCONF + SIGCONF_BODY + SIGCONF_TAIL, SIGCONF_BODY + SIGCONF_TAIL)]),
    ("remove_bibliography-bibliography", "remove_bibliography_mapper", {}, [
        ("%%\n%% This is file `sample-sigconf.tex\\clearpage\n\\bibliographystyle{ACM-Reference-Format}\n"
         "\\bibliography{sample-base}\n\\end{document}\n\\endinput\n%%\n%% End of file `sample-sigconf.tex'.\n",
         "%%\n%% This is file `sample-sigconf.tex\\clearpage\n\\bibliographystyle{ACM-Reference-Format}\n"),
    ]),
    ("remove_bibliography-ref", "remove_bibliography_mapper", {}, [
        ("%%\n%% This is file `sample-sigconf.tex\\clearpage\n\\begin{references}\n\\end{document}\n\\endinput\n%%\n"
         "%% End of file `sample-sigconf.tex'.\n",
         "%%\n%% This is file `sample-sigconf.tex\\clearpage\n"),
    ]),
    ("remove_comments-tex", "remove_comments_mapper", {"doc_type": "tex", "inline": True, "multiline": True}, [
        (SIGCONF + SIGCONF_BODY + SIGCONF_TAIL, SIGCONF_NO_COMMENTS + SIGCONF_BODY),
    ]),
    ("expand_macro", "expand_macro_mapper", {}, [(MACRO_IN, MACRO_OUT)]),
    ("remove_words_with_incorrect_substrings-en", "remove_words_with_incorrect_substrings_mapper",
     {"substrings": json.dumps(["http", "www", ".com", "href", "//"])}, [
        ("This paper proposed a novel https://whiugc.com method on LLM", "This paper proposed a novel method on LLM"),
        ("plusieurs èrdash@hqbchd.ckd d'accéder à ces wwwasdasd fonc",
         "plusieurs èrdash@hqbchd.ckd d'accéder à ces fonc"),
    ]),
]


def _lit(v: object) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    return repr(v)


def _sql_map(con, op: str, params: dict, texts: list[str | None]) -> list[str | None]:
    args = "".join(f", {k} := {_lit(v)}" for k, v in params.items())
    rows = con.execute(f"SELECT {get_op(op).sql_name}(t{args}) FROM unnest(?) WITH ORDINALITY AS u(t, i) ORDER BY i",
                       [texts]).fetchall()
    return [r[0] for r in rows]


@pytest.mark.parametrize(("case_id", "op", "params", "pairs"), DJ_CASES, ids=[c[0] for c in DJ_CASES])
def test_dj_published_case(con, case_id, op, params, pairs):
    assert _sql_map(con, op, params, [t for t, _ in pairs]) == [want for _, want in pairs]


@pytest.mark.parametrize("op", sorted({c[1] for c in DJ_CASES}))
def test_null_text_gives_null(con, op):
    assert _sql_map(con, op, {}, [None, "x"])[0] is None


# ------------------------------------------------------------------ golden, from DJ 1.6.1 itself

GOLDEN = [json.loads(line) for line in (FIXTURES / "dj_golden" / "mappers_more.jsonl").read_text().splitlines()]
VARIANTS = {
    "clean_copyright_mapper": {},
    "clean_html_mapper": {},
    "remove_long_words_mapper": {},
    "remove_long_words_mapper@min_len=3,max_len=15": {"min_len": 3, "max_len": 15},
    "remove_header_mapper": {},
    "remove_header_mapper@drop_no_head=false": {"drop_no_head": False},
    "remove_bibliography_mapper": {},
    "remove_comments_mapper": {},
    "remove_comments_mapper@inline=false": {"inline": False},
    "remove_comments_mapper@multiline=false": {"multiline": False},
    "expand_macro_mapper": {},
    "remove_words_with_incorrect_substrings_mapper": {},
    "remove_words_with_incorrect_substrings_mapper@substrings=com|算子": {"substrings": '["com", "算子"]'},
}


def _expected(row: dict, variant: str) -> str | dict:
    out = row["out"].get(variant, row["text"])
    while isinstance(out, dict) and "same" in out:
        out = row["out"][out["same"]]
    return out


def test_golden_fixture_is_real_and_varied():
    assert len(GOLDEN) >= 150
    sources = {r["source"].split(":")[0] for r in GOLDEN}
    assert {"html", "tex", "code-head", "text_stats", "edge"} <= sources
    for variant in VARIANTS:  # every variant changes some texts
        assert any(variant in r["out"] for r in GOLDEN), variant


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_golden_equals_data_juicer(con, variant):
    op, params = variant.split("@")[0], VARIANTS[variant]
    rows = [r for r in GOLDEN if not isinstance(_expected(r, variant), dict)]
    got = _sql_map(con, op, params, [r["text"] for r in rows])
    mismatches = [(r["id"], g, _expected(r, variant)) for r, g in zip(rows, got) if g != _expected(r, variant)]
    assert not mismatches, mismatches[:3]
    # where DJ raises, juicedb's row fails with the same exception
    for r in GOLDEN:
        want = _expected(r, variant)
        if isinstance(want, dict):
            spec = get_op(op)
            with pytest.raises(Exception) as e:
                spec.fn(TextBatch([r["text"]]), **spec.resolve_params(params))
            assert type(e.value).__name__ == want["error"]


# ------------------------------------------------------------------ parameters

def test_tokenization_is_rejected_before_reading_data(con):
    with pytest.raises(ParamError, match="sentencepiece"):
        get_op("remove_words_with_incorrect_substrings_mapper").resolve_params({"tokenization": True})


@pytest.mark.parametrize("bad", ["com", "[1, 2]", '{"a": "b"}'])
def test_substrings_must_be_a_json_list(bad):
    with pytest.raises(ParamError, match="JSON array of strings"):
        get_op("remove_words_with_incorrect_substrings_mapper").resolve_params({"substrings": bad})


def test_remove_header_keeps_headerless_text_when_asked(con):
    assert _sql_map(con, "remove_header_mapper", {"drop_no_head": False}, ["plain"]) == ["plain"]
    assert _sql_map(con, "remove_header_mapper", {}, ["plain"]) == [""]


@pytest.mark.parametrize(("substrings", "expected"), [
    ("[]", "a b\tabc a.c (x)\nz"),  # DJ: all([]) keeps every word
    ('[""]', ""),                   # '' is in every word
    ('["a.c", "("]', "a b\tabc (x)\nz"),  # literal substrings, tested after stripping '(' and ')'
], ids=["empty-list", "empty-substring", "regex-characters"])
def test_substrings_corner_cases_equal_dj(con, substrings, expected):
    # expected values computed by DJ 1.6.1's RemoveWordsWithIncorrectSubstringsMapper
    got = _sql_map(con, "remove_words_with_incorrect_substrings_mapper", {"substrings": substrings},
                   ["a  b\t\tabc a.c (x)\n\nz"])
    assert got == [expected]
