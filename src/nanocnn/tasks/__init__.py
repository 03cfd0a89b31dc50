"""Tasks: the kinds of problem nanocnn trains, by name (``nanocnn train --task NAME``).

Each is a :class:`~nanocnn.tasks.base.Task` (see there for what one owns). The command line
and the run folder dispatch through :data:`TASKS` and :func:`task_of`. A task registers
itself when its class is defined, so a new one is one new file: a module in this package
(every module here is imported below), or in a package of your own that declares it as a
``nanocnn.tasks`` entry point. docs/tasks.md shows one.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil

from nanocnn.errors import ModelFileError
from nanocnn.layers import Sequential
from nanocnn.tasks.base import TASKS, Option, Task, TaskData, TaskOptions

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
for _entry in importlib.metadata.entry_points(group="nanocnn.tasks"):
    _entry.load()  # a task from another package: defining its class registers it


def get_task(name: str) -> Task:
    """The task called ``name``, or a ValueError listing the known ones."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")
    return TASKS[name]


def task_of(model: Sequential, source: object = "the model") -> Task:
    """The task a model was trained for (its ``metadata["task"]``); a ``ModelFileError``
    naming ``source`` says which metadata to set when it has none."""
    name = model.metadata.get("task")
    if name is None:
        raise ModelFileError(
            f"{source}: the model does not say its task: before saving it, set e.g. "
            f"model.metadata.update(task='digits', input_shape=[1, 28, 28], "
            f"classes=['0', ..., '9']) (tasks: {', '.join(TASKS)})"
        )
    if name not in TASKS:
        raise ModelFileError(f"{source}: a model for task {name!r}, which nanocnn does not know")
    task = TASKS[name]
    if problems := task.metadata_problems(model):
        raise ModelFileError(
            f"{source}: the {name} model's metadata will not do: {'; '.join(problems)}. Set "
            f"it before saving, e.g. model.metadata.update(input_shape=[1, 28, 28], ...)"
        )
    return task


__all__ = ["TASKS", "Option", "Task", "TaskData", "TaskOptions", "get_task", "task_of"]
