"""Tasks: the kinds of problem nanocnn trains, by name (``nanocnn train --task NAME``).

Each is a :class:`~nanocnn.tasks.base.Task` (see there for what one owns). The command line
and the run folder dispatch through :data:`TASKS` and :func:`task_of`; a new task is one file
that defines a ``Task`` subclass and calls :func:`register_task` (docs/tasks.md shows one).
"""

from __future__ import annotations

from nanocnn.errors import ModelFileError
from nanocnn.model import Sequential
from nanocnn.tasks.age import Age
from nanocnn.tasks.base import Option, Task, TaskData
from nanocnn.tasks.digits import Digits
from nanocnn.tasks.images import Images

TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    """Make ``task`` known by its name to the command line and to model files."""
    if task.name in TASKS and type(TASKS[task.name]) is not type(task):
        raise ValueError(f"a different task is already registered as {task.name!r}")
    TASKS[task.name] = task
    return task


for _task in (Digits(), Age(), Images()):
    register_task(_task)


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
    return TASKS[name]


__all__ = ["TASKS", "Option", "Task", "TaskData", "get_task", "register_task", "task_of"]
