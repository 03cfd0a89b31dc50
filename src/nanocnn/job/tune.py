"""``nanocnn tune``: a search for the recipe that suits your data, with Optuna (the ``tune``
extra), within a time budget.

    nanocnn tune --task images --data-dir photos/ --budget 20m --out runs/photos-tuned

Each trial trains a recipe (architecture, learning rate, optimizer, batch size, weight decay,
augmentation, label smoothing) for the same slice of the budget (``trial_seconds``: a time
budget, so recipes are compared at equal cost), reporting its validation figure after every
epoch; the TPE sampler proposes the next recipe from the results so far, and the median
pruner stops a trial whose curve falls below the median of the others at the same epoch.
The presets' own recipes are tried first, so the search starts from them. The study lives in
the run folder (``study.log``, Optuna's journal): the same command again carries it on, with
what is left of the budget. With ``workers`` processes the trials run side by side, sharing
the study. At the end the best recipe is trained once more, on the training and validation
pictures together and for as long as a trial, and tested once on the test split.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from nanocnn import plots
from nanocnn._optional import require
from nanocnn.io import save
from nanocnn.job.options import TrainOptions, option_words
from nanocnn.job.run_folder import peak_memory_mb
from nanocnn.job.setup import Setup, plan
from nanocnn.parallel.launch import BLAS_THREAD_VARIABLES
from nanocnn.presets import PRESETS, build
from nanocnn.progress import Style
from nanocnn.training import Callback, Trainer

STUDY = "nanocnn-tune"
TRIAL_SHARE = 8  # a trial gets this fraction of the budget; so does the final training
MIN_TRIAL_SECONDS = 10.0
BATCH_SIZES = (32, 64, 128)
AUGMENTATIONS = ("auto", "none", "shift", "shift,brightness", "flip,shift")
RECIPE_KEYS = ("model", "optimizer", "lr", "batch_size", "weight_decay", "augment",
               "label_smoothing")  # fmt: skip


def tune(
    options: TrainOptions, budget: float, out: Path, workers: int = 1, search_only: bool = False
) -> dict[str, Any]:
    """Search for ``budget`` seconds in all (what a resumed study spent counts), over
    ``workers`` processes, then train and test the best recipe; returns the test report
    (also ``out/metrics.json``). ``search_only``: one of the worker processes."""
    optuna = require("optuna", extra="tune")
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # a line a trial is printed instead
    out.mkdir(parents=True, exist_ok=True)
    setup = plan(replace(options, progress="off"))
    data = setup.load()
    study = open_study(optuna, out, setup)
    trial_seconds = max(budget / TRIAL_SHARE, MIN_TRIAL_SECONDS)
    started, spent = time.perf_counter(), float(study.user_attrs.get("spent", 0.0))
    search = budget - trial_seconds - spent
    if search_only:
        run_trials(optuna, study, setup, trial_seconds, search)
        return {}
    if search > 0:
        for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)  # a killed run's
        if not study.trials:
            for recipe in preset_recipes(setup):
                study.enqueue_trial(recipe)
        if workers > 1:
            spawn_workers(workers, out, search)
        else:
            run_trials(optuna, study, setup, trial_seconds, search)
        study.set_user_attr("spent", spent + time.perf_counter() - started)
    write_trials(study, out)
    best = study.best_trial
    print(f"best of {len(study.trials)} trials: {describe(best.params)} ({best.value:.4f})")
    return final_training(setup, data, best.params, trial_seconds, out)


def open_study(optuna: Any, out: Path, setup: Setup) -> Any:
    """The study of ``out`` (new, or as a killed run left it), maximising the validation
    accuracy of a classifier, else minimising the validation figure the task monitors."""
    backend = optuna.storages.journal.JournalFileBackend(str(out / "study.log"))
    return optuna.create_study(
        storage=optuna.storages.JournalStorage(backend),
        study_name=STUDY,
        sampler=optuna.samplers.TPESampler(seed=setup.given.seed, n_startup_trials=8),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1),
        direction="maximize" if monitored(setup)[1] else "minimize",
        load_if_exists=True,
    )


def monitored(setup: Setup) -> tuple[str, bool]:
    """The validation figure a trial is judged by, and whether higher is better."""
    metric = setup.task.metric({"target_std": 1.0})
    return f"val_{metric.name}", metric.name == "accuracy"


def candidates(setup: Setup) -> list[str]:
    """The presets that can be built for the data's input shape."""
    assert setup.data is not None
    shape, outputs = setup.data.metadata["input_shape"], setup.task.outputs(setup.data)
    fit = []
    for name in PRESETS:
        try:
            build(name, shape, outputs)
        except ValueError:
            continue
        fit.append(name)
    return fit


def preset_recipes(setup: Setup) -> list[dict[str, Any]]:
    """Each fitting preset's own recipe, in the search's terms: tried first."""
    recipes = []
    for name in candidates(setup):
        preset = PRESETS[name]
        recipes.append({"model": name, "optimizer": preset.optimizer,
                        f"{preset.optimizer}_lr": preset.lr, "batch_size": preset.batch_size,
                        "weight_decay": max(preset.weight_decay, 1e-6),
                        "augment": "auto" if preset.augment else "none",
                        "label_smoothing": preset.label_smoothing})  # fmt: skip
    return recipes


def suggest(trial: Any, setup: Setup) -> dict[str, Any]:
    """One recipe, drawn by the sampler."""
    optimizer = trial.suggest_categorical("optimizer", ["adam", "sgd"])
    low, high = (1e-4, 1e-2) if optimizer == "adam" else (1e-2, 0.5)
    recipe = {
        "model": trial.suggest_categorical("model", candidates(setup)),
        "optimizer": optimizer,
        "lr": trial.suggest_float(f"{optimizer}_lr", low, high, log=True),
        "batch_size": trial.suggest_categorical("batch_size", BATCH_SIZES),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
        "augment": trial.suggest_categorical("augment", AUGMENTATIONS),
    }
    if monitored(setup)[1]:
        recipe["label_smoothing"] = trial.suggest_categorical("label_smoothing", [0.0, 0.1])
    return recipe


def recipe_options(
    setup: Setup, params: dict[str, Any], seconds: float, progress: Style = "off"
) -> Setup:
    """``setup`` with the recipe ``params`` (as the study stores them), for ``seconds``."""
    optimizer = params["optimizer"]
    given = replace(
        setup.given, model=params["model"], optimizer=optimizer, lr=params[f"{optimizer}_lr"],
        batch_size=params["batch_size"], weight_decay=params["weight_decay"],
        augment=params["augment"], label_smoothing=params.get("label_smoothing"),
        schedule="cosine" if optimizer == "adam" else "onecycle", time=seconds, patience=0,
        progress=progress,
    )  # fmt: skip
    return setup.reuse(params["model"], given)


class Report(Callback):
    """Reports a trial's validation figure after each epoch, and prunes it when told."""

    def __init__(self, trial: Any, key: str, optuna: Any) -> None:
        self.trial, self.key, self.optuna = trial, key, optuna

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        self.trial.report(logs[self.key], trainer.epoch)
        if self.trial.should_prune():
            raise self.optuna.TrialPruned()


def run_trials(optuna: Any, study: Any, setup: Setup, seconds: float, search: float) -> None:
    """Trials of ``seconds`` each until ``search`` seconds are spent."""
    key, higher = monitored(setup)
    assert setup.data is not None
    data = setup.data

    def objective(trial: Any) -> float:
        suggest(trial, setup)
        trial_setup = recipe_options(setup, trial.params, seconds)
        trainer = trial_setup.trainer(trial_setup.model(), callbacks=(Report(trial, key, optuna),))
        trainer.fit(*data.train, trial_setup.options.epochs or 1,
                    validation_data=data.validation,
                    validation_split=0.0 if data.validation else setup.val_split)  # fmt: skip
        values = trainer.history[key]
        return float(max(values) if higher else min(values))

    study.optimize(objective, timeout=search, callbacks=[print_trial])


def print_trial(study: Any, trial: Any) -> None:
    """One line a trial, as it ends."""
    value = "pruned" if trial.value is None else f"{trial.value:.4f}"
    seconds = trial.duration.total_seconds() if trial.duration else 0.0
    print(f"trial {trial.number}: {value} in {seconds:.0f} s  {describe(trial.params)}",
          flush=True)  # fmt: skip


def describe(params: dict[str, Any]) -> str:
    """A recipe as ``nanocnn train`` flags."""
    optimizer = params["optimizer"]
    options = TrainOptions(
        model=params["model"], optimizer=optimizer, lr=float(f"{params[f'{optimizer}_lr']:.2e}"),
        batch_size=params["batch_size"], weight_decay=float(f"{params['weight_decay']:.1e}"),
        augment=params["augment"], label_smoothing=params.get("label_smoothing"),
    )  # fmt: skip
    return " ".join(option_words(options))


def spawn_workers(count: int, out: Path, search: float) -> None:
    """``count`` processes running trials of the same study side by side (one BLAS thread
    each), until ``search`` seconds are spent."""
    arguments = [*sys.argv[1:], "--search-only"] if sys.argv[1:2] == ["tune"] else None
    if arguments is None:
        raise ValueError("tune with workers runs from the command line: nanocnn tune --workers N")
    env = {**os.environ, **dict.fromkeys(BLAS_THREAD_VARIABLES, "1")}
    command = [sys.executable, "-m", "nanocnn.cli", *arguments]
    processes = [subprocess.Popen(command, env=env) for _ in range(count)]
    for process in processes:
        process.wait()


def write_trials(study: Any, out: Path) -> None:
    """``trials.csv`` (one row a trial: number, state, value, seconds, recipe) and
    ``trials.png`` (the values in order, and the best so far)."""
    rows = [{"number": t.number, "state": t.state.name, "value": t.value,
             "seconds": t.duration.total_seconds() if t.duration else None, **t.params}
            for t in study.trials]  # fmt: skip
    keys = list(dict.fromkeys(key for row in rows for key in row))
    with (out / "trials.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    done = [(t.number, t.value) for t in study.trials if t.value is not None]
    maximise = study.direction.name == "MAXIMIZE"
    plots.plot_trials(done, out / "trials.png", higher_is_better=maximise)


def study_trials(out: Path) -> list[dict[str, str]]:
    """The rows of ``out/trials.csv``."""
    with (out / "trials.csv").open() as file:
        return list(csv.DictReader(file))


def final_training(
    setup: Setup, data: Any, params: dict[str, Any], seconds: float, out: Path
) -> dict[str, Any]:
    """The best recipe trained on the training and validation pictures together, for
    ``seconds``, saved in ``out`` and tested once on the test split."""
    final = recipe_options(setup, params, seconds, progress="lines")
    x, y = data.train
    if data.validation is not None:
        x, y = np.concatenate([x, data.validation[0]]), np.concatenate([y, data.validation[1]])
    model = final.model()
    trainer = final.trainer(model)
    start = time.perf_counter()
    trainer.fit(x, y, final.options.epochs or 1)
    report = setup.task.evaluate(model, data.test, out)
    save(model, out / "model.npz")
    report["training"] = {
        **final.recorded(), "recipe": params, "command": describe(params),
        "seconds": time.perf_counter() - start, "epochs": len(trainer.history),
        "trials": len(study_trials(out)), "trial_seconds": seconds,
        "peak_memory_mb": peak_memory_mb(),
    }  # fmt: skip
    (out / "metrics.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    print(f"{setup.task.format_report(report)}\nthe best recipe: nanocnn train "
          f"{describe(params)}; tuned model: {out / 'model.npz'}")  # fmt: skip
    return report
