"""The PyTorch reference of a recipes benchmark row: the twin of the network nanocnn's
default command trains (:func:`benchmarks.torch_reference.to_torch`, the same initial
weights), on the same training, validation and test pictures (loaded by nanocnn's own
:func:`nanocnn.job.setup.plan`), with a recipe searched for the data and trained for the
time nanocnn's default took (CPU seconds: other work on the machine slows both alike).

The search: Optuna's TPE over the learning rate (Adam), the batch size, the weight decay
and the augmentation (nanocnn's own, :func:`nanocnn.augment.named`, on the same batches),
the first trial being nanocnn's default recipe; each trial trains for a sixth of the time
and is judged by its best validation accuracy. The winner is then trained for the whole time
and tested with its best validation-loss epoch's weights, as nanocnn keeps its model.
Every schedule is a cosine over the epochs that fit the time, estimated from the first.

    python -m benchmarks.recipes.reference --data-dir DIR [--task images] --cpu-seconds 120
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.torch_reference import to_torch
from nanocnn import augment
from nanocnn.inputs import input_converter
from nanocnn.job.options import TrainOptions
from nanocnn.job.setup import Setup, plan
from nanocnn.training.split import split_indices

TRIALS = 4  # the search's...
TRIAL_SHARE = 6  # ... each for a sixth of the time
AUGMENTATIONS = ("none", "shift", "flip,shift")
Arrays = tuple[np.ndarray, np.ndarray]


@dataclass
class Data:
    """The splits as the model's float32 inputs, and the input side for augmentation."""

    train: Arrays
    val: Arrays
    test: Arrays
    size: int


def load(task: str, data_dir: Path) -> tuple[Setup, Data]:
    """nanocnn's setup of the default run on ``data_dir`` and its pictures, split and
    converted as its trainer does (seed 0)."""
    setup = plan(TrainOptions(task=task, data_dir=data_dir, progress="off"))
    data = setup.load()
    convert = input_converter(setup.model().metadata) or (lambda x: x.astype(np.float32))
    x, y = data.train
    if data.validation is None:
        kept, held = split_indices(len(x), setup.val_split, setup.options.seed)
        val = (x[held], y[held])
        x, y = x[kept], y[kept]
    else:
        val = data.validation
    arrays = [(convert(a), b.astype(np.int64)) for a, b in ((x, y), val, data.test)]
    return setup, Data(*arrays, size=int(x.shape[-1]))


def evaluate(torch: Any, net: Any, pair: Arrays) -> tuple[float, float]:
    """The mean cross-entropy and the accuracy of ``net`` on ``pair``."""
    net.eval()
    with torch.no_grad():
        x, y = torch.from_numpy(pair[0]), torch.from_numpy(pair[1])
        losses, right = [], 0
        for begin in range(0, len(x), 1000):
            out = net(x[begin : begin + 1000])
            losses.append(torch.nn.functional.cross_entropy(out, y[begin : begin + 1000],
                                                            reduction="sum").item())  # fmt: skip
            right += int((out.argmax(1) == y[begin : begin + 1000]).sum())
    return sum(losses) / len(x), right / len(x)


def train(torch: Any, setup: Setup, data: Data, recipe: dict[str, Any], seconds: float,
          test: bool = False) -> dict[str, Any]:  # fmt: skip
    """Train nanocnn's initial network in PyTorch with ``recipe`` for about ``seconds`` of
    CPU time:
    the best validation accuracy, and with ``test`` the test accuracy of the best
    validation-loss epoch's weights."""
    net = to_torch(setup.model())
    optimizer = torch.optim.Adam(net.parameters(), lr=recipe["lr"],
                                 weight_decay=recipe["weight_decay"])  # fmt: skip
    names = "" if recipe["augment"] == "none" else recipe["augment"]
    augmenter = augment.named(names, data.size) if names else None
    rng = np.random.default_rng(0)
    x, y = data.train
    batch = recipe["batch_size"]
    steps_per_epoch = math.ceil(len(x) / batch)
    epochs, epoch, step = 10**6, 0, 0
    best_loss, best_acc, best_state = math.inf, 0.0, None
    start, cpu = time.perf_counter(), time.process_time()
    while epoch < epochs:
        net.train()
        order = rng.permutation(len(x))
        for begin in range(0, len(x), batch):
            index = order[begin : begin + batch]
            xb = x[index] if augmenter is None else augmenter(x[index], rng)
            total = epochs * steps_per_epoch if epochs < 10**6 else None
            factor = 1.0 if total is None else 0.5 * (1 + math.cos(math.pi * step / total))
            for group in optimizer.param_groups:
                group["lr"] = recipe["lr"] * factor
            loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(xb)),
                                                     torch.from_numpy(y[index]))  # fmt: skip
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
        epoch += 1
        val_loss, val_acc = evaluate(torch, net, data.val)
        best_acc = max(best_acc, val_acc)
        if val_loss < best_loss:
            best_loss, best_state = val_loss, copy.deepcopy(net.state_dict())
        if epoch == 1:  # the epochs that fit the time, at the first one's pace
            epochs = max(1, int(seconds / (time.process_time() - cpu)))
    result = {"val_accuracy": best_acc, "epochs": epochs, "seconds": time.perf_counter() - start,
              "cpu_seconds": time.process_time() - cpu}  # fmt: skip
    if test:
        net.load_state_dict(best_state)
        result["test_accuracy"] = evaluate(torch, net, data.test)[1]
    return result


def search(task: str, data_dir: Path, seconds: float, threads: int = 1) -> dict[str, Any]:
    """The reference row for ``data_dir``: the search's trials, the chosen recipe, and its
    training for ``seconds`` (see the module)."""
    import optuna
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    setup, data = load(task, data_dir)
    default = {"lr": setup.options.lr or 1e-3, "batch_size": setup.options.batch_size or 64,
               "weight_decay": setup.options.weight_decay or 0.0, "augment": "none"}  # fmt: skip
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    study.enqueue_trial(default)
    trials = []

    def objective(trial: Any) -> float:
        recipe = {"lr": trial.suggest_float("lr", 2e-4, 1e-2, log=True),
                  "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128]),
                  "weight_decay": trial.suggest_categorical("weight_decay", [0.0, 1e-5, 1e-4]),
                  "augment": trial.suggest_categorical("augment", AUGMENTATIONS)}  # fmt: skip
        result = train(torch, setup, data, recipe, seconds / TRIAL_SHARE)
        trials.append({**recipe, **result})
        print(f"reference trial: {recipe} -> {result['val_accuracy']:.4f}", flush=True)
        return float(result["val_accuracy"])

    study.optimize(objective, n_trials=TRIALS)
    chosen = dict(study.best_trial.params)
    final = train(torch, setup, data, chosen, seconds, test=True)
    return {"recipe": chosen, "trials": trials, "threads": threads,
            "model": setup.name, **final}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--task", default="digits")
    parser.add_argument("--cpu-seconds", type=float, required=True, help="the final training's")
    parser.add_argument("--out", type=Path, required=True, help="the JSON file of the result")
    args = parser.parse_args()
    result = search(args.task, args.data_dir, args.cpu_seconds)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
