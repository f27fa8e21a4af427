"""A fake Semantic Scholar Graph API (references and citations of a paper).

Shapes follow api.semanticscholar.org/api-docs/graph:
``GET /graph/v1/paper/{paper_id}/references|citations?fields=...&offset=&limit=`` returns
``{"offset": N, "next": M, "data": [{"contexts": [...], "intents": [...], "isInfluential": bool,
"citedPaper" | "citingPaper": {"paperId", "externalIds", "title", "year", "authors", ...}}]}``.
Only the requested ``fields`` come back (``paperId`` always does); ``next`` is absent on the last
page; an unknown paper is a 404 ``{"error": "Paper with id ... not found"}``; a limit above 1000
is a 400. Rate limiting (429 with Retry-After) is injected by tests through ``loopback.Faults``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fakes.arxiv import CATALOG, CLASSIC, LOWRANK, PREFTUNE, TINYTUNE, FakePaper

EDGE_FIELDS = {"contexts", "intents", "isInfluential", "contextsWithIntent"}


def _s2_paper(paper: FakePaper, citations: int = 10) -> dict:
    return {
        "paperId": f"s2{paper.arxiv_id.replace('.', '')}",
        "externalIds": {"ArXiv": paper.arxiv_id, "CorpusId": int(paper.arxiv_id.replace(".", ""))},
        "title": paper.title,
        "year": int(paper.published[:4]),
        "venue": "arXiv.org",
        "citationCount": citations,
        "authors": [{"authorId": str(i), "name": name} for i, name in enumerate(paper.authors)],
    }


def _edge(paper: dict, contexts: list[str], influential: bool, intents: list[str]) -> dict:
    return {"contexts": contexts, "intents": intents, "isInfluential": influential, "paper": paper}


def _follow_up(index: int) -> dict:
    return {
        "paperId": f"s2follow{index:03d}",
        "externalIds": {"DOI": f"10.0000/follow.{index}"},
        "title": f"Follow-up study {index} on small-model fine-tuning",
        "year": 2025,
        "venue": "Workshop on Efficient NLP",
        "citationCount": index,
        "authors": [{"authorId": f"f{index}", "name": f"Author {index}"}],
    }


REFERENCES: dict[str, list[dict]] = {
    TINYTUNE.arxiv_id: [
        _edge(
            _s2_paper(LOWRANK, 9000),
            [
                "Low-rank adapters [1] freeze the base model and learn rank-r updates.",
                "LoRA uses rank r=16, alpha=32 as recommended by [1].",
            ],
            True,
            ["methodology"],
        ),
        _edge(
            _s2_paper(CLASSIC, 300), ["Scaling trends for chat models [2]."], False, ["background"]
        ),
        _edge(
            {
                "paperId": "s2doi0001",
                "externalIds": {"DOI": "10.1000/xyz"},
                "title": "A Journal Paper on Data Deduplication",
                "year": 2023,
                "venue": "JMLR",
                "citationCount": 50,
                "authors": [{"authorId": "9", "name": "Dana Lee"}],
            },
            ["We deduplicate following [3]."],
            False,
            ["methodology"],
        ),
        # Publishers sometimes elide references: the cited paper is unresolved.
        _edge(
            {
                "paperId": None,
                "externalIds": None,
                "title": "Unresolved reference",
                "year": None,
                "venue": None,
                "citationCount": None,
                "authors": [],
            },
            [],
            False,
            [],
        ),
    ],
    PREFTUNE.arxiv_id: [
        _edge(_s2_paper(TINYTUNE, 25), ["We start from the TinyTune recipe [4]."], True, [])
    ],
}

CITATIONS: dict[str, list[dict]] = {
    TINYTUNE.arxiv_id: [
        _edge(
            _s2_paper(PREFTUNE, 3),
            ["Starting from the TinyTune SFT recipe [4], we add a DPO stage."],
            True,
            ["methodology"],
        ),
        *(_edge(_follow_up(i), [f"As in TinyTune [{i}]."], False, []) for i in range(1, 25)),
    ],
    LOWRANK.arxiv_id: [
        _edge(_s2_paper(TINYTUNE, 25), ["Low-rank adapters [1] freeze the base model."], True, [])
    ],
    CLASSIC.arxiv_id: [],
}


def _project(edge: dict, fields: set[str], side: str) -> dict:
    out = {key: value for key, value in edge.items() if key in fields and key != "paper"}
    paper = edge["paper"]
    out[side] = {"paperId": paper["paperId"]} | {
        key: value for key, value in paper.items() if key in fields
    }
    return out


async def edges(request: Request) -> JSONResponse:
    paper_id = request.path_params["paper_id"]
    direction = request.path_params["direction"]
    table = REFERENCES if direction == "references" else CITATIONS
    arxiv_id = paper_id.removeprefix("arXiv:").removeprefix("ARXIV:")
    if direction not in ("references", "citations") or (
        arxiv_id not in table and arxiv_id not in CATALOG
    ):
        return JSONResponse({"error": f"Paper with id {paper_id} not found"}, status_code=404)
    offset = int(request.query_params.get("offset", 0))
    limit = int(request.query_params.get("limit", 100))
    if limit > 1000:
        return JSONResponse({"error": "Requested limit exceeds 1000"}, status_code=400)
    fields = set(filter(None, request.query_params.get("fields", "title").split(",")))
    side = "citedPaper" if direction == "references" else "citingPaper"
    rows = table.get(arxiv_id, [])
    page = [_project(edge, fields, side) for edge in rows[offset : offset + limit]]
    body: dict = {"offset": offset, "data": page}
    if offset + limit < len(rows):
        body["next"] = offset + limit
    return JSONResponse(body)


def build_app() -> Starlette:
    return Starlette(routes=[Route("/graph/v1/paper/{paper_id}/{direction}", edges)])
