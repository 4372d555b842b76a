"""What a fit computes, one task per ``train.fit`` mode."""

from __future__ import annotations

from srdistill.engine.build import Parts
from srdistill.engine.tasks.base import Network, Task, TrainBatch
from srdistill.engine.tasks.joint import JointTask
from srdistill.engine.tasks.student import StudentTask
from srdistill.engine.tasks.teacher import TeacherTask
from srdistill.recipe.schema import Recipe

__all__ = ["JointTask", "Network", "StudentTask", "Task", "TeacherTask", "TrainBatch", "make_task"]

TASKS: dict[str, type[Task]] = {"student": StudentTask, "teacher": TeacherTask, "joint": JointTask}


def make_task(recipe: Recipe, parts: Parts) -> Task:
    """The task of ``recipe.train.fit``, on parts that engine.validity has checked."""
    return TASKS[recipe.train.fit](recipe, parts)
