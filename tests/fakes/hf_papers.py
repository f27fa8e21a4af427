"""A fake of the Hugging Face Hub's papers API, plus the ``arxiv:`` filter of models/datasets.

Shapes are those huggingface_hub's ``HfApi`` parses (hf_api.py: ``PaperInfo``, ``list_papers``,
``list_daily_papers``, ``paper_info``, ``list_models``, ``list_datasets``):
- ``/api/papers/search?q=&limit=`` and ``/api/daily_papers?date=&limit=&p=&sort=`` return
  daily-paper entries: ``{"paper": {id, authors, publishedAt, summary, upvotes, ...}, "title",
  "publishedAt" (the day it was featured), "numComments", "submittedBy", ...}``;
- ``/api/papers/<id>`` returns the flat paper object, or 404 ``{"error": ...}``;
- ``/api/models?filter=arxiv:<id>&sort=downloads&limit=`` and ``/api/datasets?...`` return repo
  lists sorted by downloads, descending.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fakes.arxiv import CATALOG, FakePaper

SUBMITTER = {"_id": "65aa", "avatarUrl": "/avatars/ak.svg", "fullname": "AK", "name": "akhaliq"}


def _paper_object(paper: FakePaper) -> dict:
    return {
        "id": paper.arxiv_id,
        "authors": [
            {"_id": f"a{i}", "name": name, "hidden": False} for i, name in enumerate(paper.authors)
        ],
        "publishedAt": f"{paper.published}T17:59:00.000Z",
        "title": paper.title,
        "summary": paper.abstract,
        "upvotes": paper.upvotes,
        "discussionId": f"d-{paper.arxiv_id}",
        "ai_summary": paper.abstract.split(". ")[0] + ".",
        "ai_keywords": paper.ai_keywords,
        **({"githubRepo": paper.github_repo, "githubStars": 321} if paper.github_repo else {}),
    }


def _daily_entry(paper: FakePaper) -> dict:
    return {
        "paper": _paper_object(paper),
        "publishedAt": f"{paper.daily_date or paper.published}T01:00:00.000Z",
        "title": paper.title,
        "thumbnail": f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{paper.arxiv_id}.png",
        "numComments": 2,
        "submittedBy": SUBMITTER,
        "isAuthorParticipating": False,
    }


def _on_hub() -> list[FakePaper]:
    return [p for p in CATALOG.values() if p.on_hub]


def _limit(request: Request, default: int) -> int:
    return int(request.query_params.get("limit", default))


async def search(request: Request) -> JSONResponse:
    words = [w for w in request.query_params.get("q", "").lower().split() if w]
    scored = []
    for paper in _on_hub():
        haystack = f"{paper.title} {paper.abstract} {' '.join(paper.ai_keywords)}".lower()
        score = sum(haystack.count(word) for word in words)
        if score:
            scored.append((score, paper))
    scored.sort(key=lambda item: -item[0])
    return JSONResponse([_daily_entry(p) for _, p in scored[: _limit(request, 120)]])


async def daily(request: Request) -> JSONResponse:
    date = request.query_params.get("date")
    featured = [p for p in _on_hub() if p.daily_date]
    if date is None:  # the most recent day with papers
        date = max(p.daily_date for p in featured if p.daily_date)
    day = [p for p in featured if p.daily_date == date]
    if request.query_params.get("sort") == "trending":
        day.sort(key=lambda p: -p.upvotes)
    return JSONResponse([_daily_entry(p) for p in day[: _limit(request, 50)]])


async def paper_info(request: Request) -> JSONResponse:
    paper = CATALOG.get(request.path_params["arxiv_id"])
    if paper is None or not paper.on_hub:
        return JSONResponse({"error": "Paper not found"}, status_code=404)
    return JSONResponse(
        {**_paper_object(paper), "submittedOnDailyAt": f"{paper.daily_date}T01:00:00.000Z"}
    )


def _linked(request: Request, kind: str) -> JSONResponse:
    wanted = [f for f in request.query_params.getlist("filter") if f.startswith("arxiv:")]
    repos = []
    for arxiv_filter in wanted:
        paper = CATALOG.get(arxiv_filter.removeprefix("arxiv:"))
        if paper is not None:
            repos += paper.linked_models if kind == "models" else paper.linked_datasets
    repos = sorted(repos, key=lambda r: -r["downloads"])[: _limit(request, 1000)]
    items = []
    for repo in repos:
        item = {
            "_id": "6" + repo["id"].replace("/", ""),
            "id": repo["id"],
            "likes": repo["likes"],
            "downloads": repo["downloads"],
            "private": False,
            "tags": [f"arxiv:{f.removeprefix('arxiv:')}" for f in wanted],
            "createdAt": "2025-02-05T10:00:00.000Z",
        }
        if kind == "models":
            item.update(pipeline_tag="text-generation", library_name="transformers")
        items.append(item)
    return JSONResponse(items)


async def models(request: Request) -> JSONResponse:
    return _linked(request, "models")


async def datasets(request: Request) -> JSONResponse:
    return _linked(request, "datasets")


def build_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/api/papers/search", search),
            Route("/api/daily_papers", daily),
            Route("/api/papers/{arxiv_id:path}", paper_info),
            Route("/api/models", models),
            Route("/api/datasets", datasets),
        ]
    )
