"""Labelled classification tasks: the data model, the loader and the built-in tasks."""

from smolgepa.tasks.loader import builtin_task_names, load_task
from smolgepa.tasks.model import SPLITS, Example, Task

__all__ = ["SPLITS", "Example", "Task", "builtin_task_names", "load_task"]
