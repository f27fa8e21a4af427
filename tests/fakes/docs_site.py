"""A fake of the Hugging Face documentation site (huggingface.co/docs).

Shapes follow what the real site serves:
- ``/docs``: the landing page, linking every library as ``/docs/<library>``;
- ``/docs/<library>``: a redirect to ``/docs/<library>/index``;
- ``/docs/<library>/<page>``: an HTML page whose sidebar is ``<nav class="... flex-auto ...">``
  with section headings and ``<a href="/docs/<library>/<page>">`` links; the top bar links other
  libraries and the Hub (not part of this library's pages);
- ``/docs/<library>/<page>.md``: the page's markdown source.

``FakeDocsSite`` holds the pages so a test can add or remove one and watch the index refresh.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route


@dataclass
class DocPage:
    section: str
    path: str  # under /docs/<library>/, no extension
    title: str
    markdown: str


def _page(section: str, path: str, title: str, body: str) -> DocPage:
    return DocPage(section, path, title, f"# {title}\n\n{body.strip()}\n")


TRAINER_BODY = """
The [`Trainer`] class provides an API for feature-complete training in PyTorch. It supports
distributed training on multiple GPUs/TPUs and mixed precision.

## TrainingArguments

Configure a run with [`TrainingArguments`]: `learning_rate`, `num_train_epochs`,
`per_device_train_batch_size`, `gradient_accumulation_steps`, `lr_scheduler_type` (for example
`"cosine"`), `warmup_ratio`, `logging_steps` and `eval_strategy`.

```py
from transformers import Trainer, TrainingArguments

args = TrainingArguments(output_dir="out", learning_rate=2e-5, num_train_epochs=3)
trainer = Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds)
trainer.train()
```

## Checkpoints

`save_strategy` and `save_total_limit` control how often and how many checkpoints are kept.
"""

SFT_BODY = """
Supervised fine-tuning (SFT) is the most common step in post-training. [`SFTTrainer`] trains a
causal language model on a dataset of conversations or prompt-completion pairs.

## Quickstart

```python
from datasets import load_dataset
from trl import SFTConfig, SFTTrainer

dataset = load_dataset("trl-lib/Capybara", split="train")
trainer = SFTTrainer(model="Qwen/Qwen2.5-0.5B", train_dataset=dataset, args=SFTConfig(output_dir="out"))
trainer.train()
```

## Dataset formats

SFTTrainer accepts *conversational* datasets with a `messages` column (a list of role/content
turns) and *standard* datasets with a `text` column. Chat templates are applied automatically.

## Packing

Set `packing=True` in [`SFTConfig`] to pack several short sequences into one of `max_length`
tokens, which speeds up training on short conversations.

## Training adapters with PEFT

Pass a `peft_config=LoraConfig(r=16, lora_alpha=32)` to train LoRA adapters instead of the
whole model.
"""

LORA_BODY = """
LoRA (Low-Rank Adaptation) freezes the pretrained weights and learns a pair of rank-decomposition
matrices for selected layers, which reduces the number of trainable parameters drastically.

## LoraConfig

- `r`: the rank of the update matrices; lower rank means fewer trainable parameters.
- `lora_alpha`: the scaling factor; a common choice is twice the rank.
- `target_modules`: the modules to adapt, for example `["q_proj", "v_proj"]` or `"all-linear"`.
- `lora_dropout`: dropout probability of the LoRA layers.

```py
from peft import LoraConfig, get_peft_model

config = LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", lora_dropout=0.05)
model = get_peft_model(model, config)
model.print_trainable_parameters()
```

## Merging adapters

Call `merge_and_unload()` to fold the adapter into the base weights for inference.
"""

LIBRARIES: dict[str, list[DocPage]] = {
    "transformers": [
        _page("Get started", "index", "Transformers", "State-of-the-art pretrained models."),
        _page(
            "Get started",
            "installation",
            "Installation",
            "Install with `pip install transformers`.",
        ),
        _page(
            "Training", "training", "Fine-tuning", "Fine-tune a pretrained model with [`Trainer`]."
        ),
        _page("API", "main_classes/trainer", "Trainer", TRAINER_BODY),
    ],
    "trl": [
        _page("Get started", "index", "TRL - Transformer Reinforcement Learning", "Post-training."),
        _page("Trainers", "sft_trainer", "SFT Trainer", SFT_BODY),
        _page(
            "Trainers", "dpo_trainer", "DPO Trainer", "Direct preference optimization with `beta`."
        ),
    ],
    "peft": [
        _page("Get started", "index", "PEFT", "Parameter-efficient fine-tuning methods."),
        _page("Developer guides", "developer_guides/lora", "LoRA", LORA_BODY),
        _page("Reference", "package_reference/lora", "LoRA reference", "API of `LoraModel`."),
    ],
    "datasets": [
        _page("Get started", "index", "Datasets", "Load, process and share datasets."),
        _page("How-to", "loading", "Load", "Use `load_dataset` for Hub ids or local files."),
    ],
    "hub": [
        _page(
            "Get started", "index", "Hugging Face Hub documentation", "Models, datasets, Spaces."
        ),
        _page("Models", "models-uploading", "Uploading models", "Push with `push_to_hub`."),
    ],
}


@dataclass
class FakeDocsSite:
    libraries: dict[str, list[DocPage]] = field(
        default_factory=lambda: {name: list(pages) for name, pages in LIBRARIES.items()}
    )

    def find(self, library: str, path: str) -> DocPage | None:
        return next((p for p in self.libraries.get(library, []) if p.path == path), None)

    def _sidebar(self, library: str) -> str:
        parts, current = [], None
        for page in self.libraries[library]:
            if page.section != current:
                current = page.section
                parts.append(f'<h3 class="flex items-center">{html.escape(current)}</h3>')
            parts.append(
                f'<a class="transform py-1 pr-2 pl-2" href="/docs/{library}/{page.path}">'
                f"{html.escape(page.title)}</a>"
            )
        return "\n".join(parts)

    def page_html(self, library: str, page: DocPage) -> str:
        others = "".join(f'<a href="/docs/{name}">{name}</a>' for name in self.libraries)
        return (
            f"<!doctype html><html><head><title>{html.escape(page.title)}</title></head><body>"
            f'<header><a href="/models">Models</a><a href="/docs/{library}/index">Home</a>'
            f"{others}</header>"
            '<div class="flex"><aside><nav class="top-0 flex-auto overflow-y-auto">'
            f"{self._sidebar(library)}</nav></aside>"
            f'<div class="prose"><h1>{html.escape(page.title)}</h1>'
            f"<pre>{html.escape(page.markdown)}</pre></div></div></body></html>"
        )

    def landing_html(self) -> str:
        cards = "".join(
            f'<a class="card" href="/docs/{name}"><h3>{name}</h3></a>' for name in self.libraries
        )
        return f"<!doctype html><html><body><h1>Documentation</h1>{cards}</body></html>"

    async def handle(self, request: Request) -> Response:
        rest = request.path_params.get("rest", "").strip("/")
        if not rest:
            return HTMLResponse(self.landing_html())
        library, _, path = rest.partition("/")
        if library not in self.libraries:
            return HTMLResponse("<html><body>404: page not found</body></html>", status_code=404)
        if not path:
            return RedirectResponse(f"/docs/{library}/index", status_code=302)
        as_markdown = path.endswith(".md")
        page = self.find(library, path.removesuffix(".md"))
        if page is None:
            return HTMLResponse("<html><body>404: page not found</body></html>", status_code=404)
        if as_markdown:
            return PlainTextResponse(page.markdown, media_type="text/markdown")
        return HTMLResponse(self.page_html(library, page))

    def build_app(self) -> Starlette:
        return Starlette(
            routes=[Route("/docs", self.handle), Route("/docs/{rest:path}", self.handle)]
        )
