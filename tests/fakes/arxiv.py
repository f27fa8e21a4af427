"""A fake arXiv: the paper catalog every papers fake shares, the HTML versions, the export API.

Shapes follow what arxiv.org serves:
- ``/html/<id>`` redirects to the latest version, ``/html/<id>v<n>``: LaTeXML output
  (``article.ltx_document``, ``h1.ltx_title_document``,
  ``div.ltx_abstract``, nested ``section.ltx_section`` / ``ltx_subsection`` with
  ``span.ltx_tag`` numbers, ``div.ltx_para > p.ltx_p``, ``math[alttext]``, ``figure.ltx_table``,
  ``section.ltx_bibliography``, ``section.ltx_appendix``); a paper without an HTML version is a 404.
- ``/api/query?id_list=<id>``: the export API's Atom feed; an unknown id gives an empty feed.

The catalog is a small, coherent research world: TinyTune (2502.01234) has a training recipe in
"4.1 Training recipe", cites the LoRA-like paper and an arXiv-only classic, is cited by a
preference-tuning follow-up, and has linked models and a dataset on the Hub.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route


@dataclass
class Section:
    number: str  # "4", "4.1", "A"; "" for unnumbered
    title: str
    paragraphs: list[str] = field(default_factory=list)
    children: list[Section] = field(default_factory=list)
    table: list[list[str]] | None = None
    kind: str = "section"  # section | subsection | appendix


@dataclass
class FakePaper:
    arxiv_id: str
    title: str
    authors: list[str]
    published: str  # YYYY-MM-DD
    abstract: str
    on_hub: bool = True
    upvotes: int = 0
    daily_date: str | None = None
    github_repo: str | None = None
    ai_keywords: list[str] = field(default_factory=list)
    sections: list[Section] | None = None  # None: no HTML version on arXiv
    linked_models: list[dict] = field(default_factory=list)
    linked_datasets: list[dict] = field(default_factory=list)
    raw_html: str | None = None  # served as the HTML version as it is (a hostile page)


TINYTUNE = FakePaper(
    arxiv_id="2502.01234",
    title="TinyTune: A Reproducible Recipe for Supervised Fine-Tuning of Small Language Models",
    authors=["Ada Moreau", "Kenji Watanabe", "Priya Natarajan"],
    published="2025-02-03",
    abstract=(
        "We present TinyTune, a fully reproducible recipe for supervised fine-tuning (SFT) of "
        "language models under one billion parameters. Using low-rank adapters and a curated "
        "chat dataset, tinychat-10k, a 0.5B model matches a full fine-tune at a tenth of the "
        "memory. We release code, data and checkpoints."
    ),
    upvotes=87,
    daily_date="2025-02-04",
    github_repo="https://github.com/tinytune/tinytune",
    ai_keywords=["supervised fine-tuning", "LoRA", "small language models"],
    sections=[
        Section(
            "1",
            "Introduction",
            [
                "Small language models are cheap to serve but hard to fine-tune reproducibly. "
                "Published recipes omit learning rates, data mixtures or adapter settings."
            ],
        ),
        Section(
            "2",
            "Related Work",
            ["Low-rank adapters [1] freeze the base model and learn rank-r updates."],
        ),
        Section(
            "3",
            "Method",
            ["TinyTune combines a filtered chat mixture with LoRA adapters on every projection."],
            children=[
                Section(
                    "3.1",
                    "Data mixture",
                    ["We deduplicate tinychat-10k and keep conversations of at most 8 turns."],
                    kind="subsection",
                ),
                Section(
                    "3.2",
                    "Adapters",
                    ["Adapters are attached to q_proj, k_proj, v_proj and o_proj."],
                    kind="subsection",
                ),
            ],
        ),
        Section(
            "4",
            "Experiments",
            ["All runs use a single 24 GB GPU."],
            children=[
                Section(
                    "4.1",
                    "Training recipe",
                    [
                        "We fine-tune Qwen2.5-0.5B on the mlintern-fake/tinychat-10k dataset for 3 "
                        "epochs with AdamW, a learning rate of $2\\times 10^{-4}$, a cosine schedule "
                        "with warmup ratio 0.03 and an effective batch size of 64. LoRA uses rank "
                        "r=16, alpha=32 and dropout 0.05; sequences are packed to 2048 tokens."
                    ],
                    kind="subsection",
                ),
                Section(
                    "4.2",
                    "Results",
                    ["TinyTune reaches 61.2 on MT-Bench-mini, within 0.4 of a full fine-tune."],
                    table=[["Method", "MT-Bench-mini", "Memory"], ["Full FT", "61.6", "40 GB"]],
                    kind="subsection",
                ),
            ],
        ),
        Section("5", "Conclusion", ["A small, careful recipe goes a long way."]),
        Section(
            "A",
            "Hyperparameters",
            ["Table 3 lists every hyperparameter, including weight decay 0.0."],
            kind="appendix",
        ),
    ],
    linked_models=[
        {"id": "tinytune/TinyTune-0.5B-SFT", "downloads": 12345, "likes": 40},
        {"id": "tinytune/TinyTune-0.5B-LoRA", "downloads": 2345, "likes": 12},
    ],
    linked_datasets=[{"id": "mlintern-fake/tinychat-10k", "downloads": 5400, "likes": 9}],
)

PREFTUNE = FakePaper(
    arxiv_id="2502.05678",
    title="Preference Optimization Without Reward Models at Small Scale",
    authors=["Lena Fischer", "Omar Haddad"],
    published="2025-02-04",
    abstract=(
        "Starting from the TinyTune SFT recipe, we study direct preference optimization for "
        "small models and show that a beta of 0.1 with a reference model is enough."
    ),
    upvotes=41,
    daily_date="2025-02-04",
    ai_keywords=["DPO", "preference optimization"],
    sections=[
        Section("1", "Introduction", ["Preference tuning usually needs a reward model."]),
        Section("2", "Setup", ["We start from TinyTune-0.5B-SFT and train with DPO, beta 0.1."]),
    ],
)

LOWRANK = FakePaper(
    arxiv_id="2106.00042",
    title="Low-Rank Adapters for Large Language Models",
    authors=["Ed Hu", "Yelong Shen"],
    published="2021-06-01",
    abstract="We freeze pretrained weights and inject trainable rank decomposition matrices.",
    upvotes=210,
    daily_date="2021-06-02",
    ai_keywords=["LoRA", "parameter-efficient fine-tuning"],
    sections=None,  # older submission: arXiv has no HTML version
    # A popular method: more linked adapters than papers_get shows.
    linked_models=[
        {"id": f"community/lora-adapter-{i}", "downloads": 1000 * i, "likes": i}
        for i in range(1, 8)
    ],
)

CLASSIC = FakePaper(
    arxiv_id="1901.00007",
    title="Scaling Laws for Tiny Chat Models",
    authors=["Grace Hopper"],
    published="2019-01-02",
    abstract="An arXiv-only classic that the Hugging Face papers pages do not index.",
    on_hub=False,
)

CATALOG: dict[str, FakePaper] = {p.arxiv_id: p for p in (TINYTUNE, PREFTUNE, LOWRANK, CLASSIC)}


def _section_html(section: Section, depth: int) -> str:
    tag_kind = {"section": "section", "subsection": "subsection", "appendix": "appendix"}
    kind = tag_kind[section.kind]
    heading = f"h{min(depth + 1, 6)}"
    number = f"Appendix {section.number}" if section.kind == "appendix" else section.number
    tag = f'<span class="ltx_tag ltx_tag_{kind}">{number} </span>' if section.number else ""
    parts = [
        f'<section class="ltx_{kind}" id="S{section.number}">',
        f'<{heading} class="ltx_title ltx_title_{kind}">{tag}{html.escape(section.title)}'
        f"</{heading}>",
    ]
    for index, text in enumerate(section.paragraphs):
        body = html.escape(text)
        if "$" in text:  # inline maths as LaTeXML renders it: MathML with the TeX in alttext
            head, tex, tail = text.split("$", 2)
            body = (
                f'{html.escape(head)}<math class="ltx_Math" alttext="{html.escape(tex)}" '
                f'display="inline"><semantics><mrow><mn>2</mn></mrow>'
                f'<annotation encoding="application/x-tex">{html.escape(tex)}</annotation>'
                f"</semantics></math>{html.escape(tail)}"
            )
        parts.append(
            f'<div class="ltx_para" id="S{section.number}.p{index + 1}">'
            f'<p class="ltx_p">{body} <cite class="ltx_cite">[<a class="ltx_ref" '
            f'href="#bib.bib1">1</a>]</cite></p></div>'
        )
    if section.table:
        rows = "".join(
            '<tr class="ltx_tr">'
            + "".join(f'<td class="ltx_td">{html.escape(c)}</td>' for c in row)
            + "</tr>"
            for row in section.table
        )
        parts.append(
            f'<figure class="ltx_table"><table class="ltx_tabular">{rows}</table>'
            f'<figcaption class="ltx_caption"><span class="ltx_tag ltx_tag_table">Table 1: '
            f"</span>Main results.</figcaption></figure>"
        )
    parts += [_section_html(child, depth + 1) for child in section.children]
    parts.append("</section>")
    return "\n".join(parts)


def paper_html(paper: FakePaper) -> str:
    assert paper.sections is not None
    main = [s for s in paper.sections if s.kind != "appendix"]
    appendix = [s for s in paper.sections if s.kind == "appendix"]
    authors = ", ".join(html.escape(a) for a in paper.authors)
    return "\n".join(
        [
            "<!DOCTYPE html><html lang='en'><head><title>"
            + html.escape(paper.title)
            + "</title><script>var x = '<h2>not a heading</h2>';</script></head><body>",
            '<nav class="ltx_page_navbar"><a href="#S1">1 Introduction</a></nav>',
            '<div class="ltx_page_main"><div class="ltx_page_content">',
            '<article class="ltx_document">',
            f'<h1 class="ltx_title ltx_title_document">{html.escape(paper.title)}</h1>',
            f'<div class="ltx_authors"><span class="ltx_personname">{authors}</span></div>',
            '<div class="ltx_abstract"><h6 class="ltx_title ltx_title_abstract">Abstract</h6>',
            f'<p class="ltx_p">{html.escape(paper.abstract)}</p></div>',
            *(_section_html(s, 1) for s in main),
            '<section class="ltx_bibliography" id="bib">',
            '<h2 class="ltx_title ltx_title_bibliography">References</h2>',
            '<ul class="ltx_biblist"><li class="ltx_bibitem" id="bib.bib1">',
            '<span class="ltx_bibblock">E. Hu et al. Low-rank adapters. 2021.</span></li></ul>',
            "</section>",
            *(_section_html(s, 1) for s in appendix),
            "</article></div></div>",
            '<footer class="ltx_page_footer">Generated by LaTeXML</footer></body></html>',
        ]
    )


def atom_feed(papers: list[FakePaper]) -> str:
    entries = []
    for paper in papers:
        authors = "".join(f"<author><name>{html.escape(a)}</name></author>" for a in paper.authors)
        entries.append(
            f"<entry><id>http://arxiv.org/abs/{paper.arxiv_id}v1</id>"
            f"<updated>{paper.published}T00:00:00Z</updated>"
            f"<published>{paper.published}T00:00:00Z</published>"
            f"<title>{html.escape(paper.title)}</title>"
            f"<summary>  {html.escape(paper.abstract)}\n</summary>{authors}"
            f'<link href="http://arxiv.org/abs/{paper.arxiv_id}v1" rel="alternate" '
            f'type="text/html"/><link title="pdf" href="http://arxiv.org/pdf/{paper.arxiv_id}v1" '
            f'rel="related" type="application/pdf"/>'
            f'<arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cs.CL" '
            f'scheme="http://arxiv.org/schemas/atom"/></entry>'
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
        "<title>arXiv Query</title>"
        f"<opensearch:totalResults>{len(papers)}</opensearch:totalResults>"
        + "".join(entries)
        + "</feed>"
    )


def _bare_id(raw: str) -> str:
    base, _, version = raw.rpartition("v")
    return base if base and version.isdigit() else raw


async def html_version(request: Request) -> Response:
    requested = request.path_params["arxiv_id"]
    paper = CATALOG.get(_bare_id(requested))
    if paper is not None and paper.raw_html is not None:
        return HTMLResponse(paper.raw_html)
    if paper is None or paper.sections is None:
        return HTMLResponse("<html><body>No HTML for this paper.</body></html>", status_code=404)
    if requested == paper.arxiv_id:  # an unversioned id is redirected to the latest version
        return RedirectResponse(f"/html/{paper.arxiv_id}v1", status_code=302)
    return HTMLResponse(paper_html(paper))


async def export_query(request: Request) -> Response:
    ids = [i for i in request.query_params.get("id_list", "").split(",") if i]
    found = [CATALOG[_bare_id(i)] for i in ids if _bare_id(i) in CATALOG]
    return Response(atom_feed(found), media_type="application/atom+xml")


def build_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/html/{arxiv_id:path}", html_version),
            Route("/api/query", export_query),
        ]
    )
