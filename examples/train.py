"""A tiny CPU training run to try mlintern's jobs and experiments tools on.

An MLP learns a synthetic 4-class problem (a few seconds on 2 CPU cores with the default
config). It reads a YAML config from ``--config PATH``, else ``$MLINTERN_CONFIG_FILE``, else
``config.yaml`` next to this file; command-line flags override single keys. Scalars
``train/loss``, ``val/loss`` and ``val/accuracy`` go to TensorBoard in ``log_dir`` (else
``$MLINTERN_METRICS_DIR``, else ``./runs``) and, with ``trackio: true``, to trackio too. Every
evaluation prints one line.

Divergence: with an absurd learning rate (``optimizer.lr: 1000``) the loss becomes NaN/inf.
Training does not stop early: it keeps logging the non-finite values to the end, so the
metrics show what happened, and then exits with code 3. A healthy run exits with 0.

    python examples/train.py --steps 200 --lr 0.01
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml

DIVERGED_EXIT_CODE = 3
DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "steps": 300,
    "batch_size": 64,
    "eval_every": 50,
    "hidden": 64,
    "optimizer": {"name": "sgd", "lr": 0.1},
    "log_dir": None,
    "trackio": False,
    "project": "mlintern-example",
    "step_sleep": 0.0,
    "train_size": 4096,  # fewer examples (e.g. 64) make the model overfit
    "mlflow": False,  # also log to MLflow (local ./mlruns unless MLFLOW_TRACKING_URI is set)
    "wandb": False,  # also log to W&B (set WANDB_MODE=offline to keep it on this machine)
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--config", help="YAML config (default: $MLINTERN_CONFIG_FILE)")
    parser.add_argument("--steps", type=int, help="override steps")
    parser.add_argument("--lr", type=float, help="override optimizer.lr")
    parser.add_argument("--log-dir", help="override log_dir")
    parser.add_argument("--step-sleep", type=float, help="seconds to pause per step (slow runs)")
    parser.add_argument("--seed", type=int, help="override seed")
    return parser.parse_args(argv)


class ConfigMissing(Exception):
    """A config that was asked for by name does not exist (exit 2, never silent defaults)."""


def load_config(args: argparse.Namespace) -> dict[str, Any]:
    named = args.config or os.environ.get("MLINTERN_CONFIG_FILE")
    path = Path(named) if named else Path(__file__).with_name("config.yaml")
    if named and not path.is_file():
        source = "--config" if args.config else "$MLINTERN_CONFIG_FILE"
        raise ConfigMissing(f"train.py: {source} {path} does not exist; pass an existing YAML file")
    loaded = yaml.safe_load(path.read_text()) if path.exists() else None
    config = {**DEFAULTS, **(loaded or {})}
    config["optimizer"] = {**DEFAULTS["optimizer"], **(config.get("optimizer") or {})}
    overrides = {"steps": args.steps, "log_dir": args.log_dir, "step_sleep": args.step_sleep}
    overrides["seed"] = args.seed
    config.update({key: value for key, value in overrides.items() if value is not None})
    if args.lr is not None:
        config["optimizer"]["lr"] = args.lr
    config["log_dir"] = (
        config["log_dir"] or os.environ.get("MLINTERN_METRICS_DIR") or str(Path("runs"))
    )
    return config


def make_data(seed: int):
    import torch

    generator = torch.Generator().manual_seed(seed)
    teacher = torch.randn(20, 4, generator=generator)
    inputs = torch.randn(5120, 20, generator=generator)
    labels = (torch.tanh(inputs) @ teacher).argmax(dim=1)
    return (inputs[:4096], labels[:4096]), (inputs[4096:], labels[4096:])


def train(config: dict[str, Any]) -> int:
    import torch
    from torch import nn
    from torch.utils.tensorboard import SummaryWriter

    torch.manual_seed(config["seed"])
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    (train_x, train_y), (val_x, val_y) = make_data(config["seed"])
    train_x, train_y = train_x[: int(config["train_size"])], train_y[: int(config["train_size"])]
    hidden = int(config["hidden"])
    model = nn.Sequential(
        nn.Linear(20, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 4)
    )
    opt = config["optimizer"]
    optimizers = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}
    if opt["name"] not in optimizers:
        print(f"unknown optimizer {opt['name']!r}; use adam or sgd", file=sys.stderr)
        return 2
    optimizer = optimizers[opt["name"]](model.parameters(), lr=float(opt["lr"]))
    loss_fn = nn.CrossEntropyLoss()
    writer = SummaryWriter(config["log_dir"])
    tracker = start_trackio(config)
    others = start_trackers(config)
    print(f"training {config['steps']} steps, lr={opt['lr']}, logging to {config['log_dir']}")
    val_loss = float("nan")
    for step in range(1, int(config["steps"]) + 1):
        batch = torch.randint(0, len(train_x), (int(config["batch_size"]),))
        loss = loss_fn(model(train_x[batch]), train_y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scalars = {"train/loss": loss.item()}
        if step % int(config["eval_every"]) == 0 or step == int(config["steps"]):
            with torch.no_grad():
                logits = model(val_x)
                val_loss = loss_fn(logits, val_y).item()
                accuracy = (logits.argmax(dim=1) == val_y).float().mean().item()
            scalars |= {"val/loss": val_loss, "val/accuracy": accuracy}
            print(
                f"step {step} train/loss {loss.item():.4f} val/loss {val_loss:.4f} "
                f"val/accuracy {accuracy:.3f}",
                flush=True,
            )
        for tag, value in scalars.items():
            writer.add_scalar(tag, value, step)
        if tracker is not None:
            tracker.log(scalars, step=step)
        for log in others:
            log(scalars, step)
        if config["step_sleep"]:
            time.sleep(float(config["step_sleep"]))
    writer.close()
    if tracker is not None:
        tracker.finish()
    finish_trackers(config)
    if not math.isfinite(val_loss):
        print(f"diverged: final val/loss is {val_loss}", flush=True)
        return DIVERGED_EXIT_CODE
    print(f"done: final val/loss {val_loss:.4f}", flush=True)
    return 0


def start_trackio(config: dict[str, Any]):
    if not config.get("trackio"):
        return None
    try:
        import trackio
    except ImportError:
        print("trackio: true in the config, but trackio is not installed; skipping it")
        return None
    trackio.init(project=config["project"], config=config)
    return trackio


def start_trackers(config: dict[str, Any]) -> list:
    """MLflow and W&B loggers, for the configs that ask for them (each takes scalars, step)."""
    loggers = []
    if config.get("mlflow"):
        import mlflow

        mlflow.set_experiment(config["project"])
        mlflow.start_run()
        mlflow.log_params({"lr": config["optimizer"]["lr"], "steps": config["steps"]})
        loggers.append(lambda scalars, step: mlflow.log_metrics(scalars, step=step))
    if config.get("wandb"):
        import wandb

        run = wandb.init(project=config["project"], config=config)
        loggers.append(lambda scalars, step: run.log(scalars, step=step))
    return loggers


def finish_trackers(config: dict[str, Any]) -> None:
    if config.get("mlflow"):
        import mlflow

        mlflow.end_run()
    if config.get("wandb"):
        import wandb

        wandb.finish()


def main(argv: list[str] | None = None) -> int:
    try:
        config = load_config(parse_args(argv))
    except ConfigMissing as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        import torch  # noqa: F401
    except ImportError:
        print(
            "train.py needs PyTorch: pip install 'mlintern[train]' (or: pip install torch)",
            file=sys.stderr,
        )
        return 2
    return train(config)


if __name__ == "__main__":
    sys.exit(main())
