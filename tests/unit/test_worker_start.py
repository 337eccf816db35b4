"""Local Lambda workers start from their own code, as a Lambda execution environment does."""

from __future__ import annotations

import importlib.machinery
import sys
import types
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from multiprocessing.context import BaseContext

import pytest

from localrun.worker import LambdaWorkerContext

#: A module that is harmless to run as a main module: it only defines things unless it is __main__.
STAND_IN_MAIN = "calendar"


def main_module_of_this_process() -> str | None:
    """Runs in the child: which module it holds as ``__main__`` (None: its own bootstrap)."""
    return getattr(sys.modules["__main__"].__spec__, "name", None)


def _child_main(context: BaseContext) -> str | None:
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(main_module_of_this_process).result(timeout=60)


def test_a_worker_does_not_import_the_parents_main_module(monkeypatch: pytest.MonkeyPatch) -> None:
    parent_main = types.ModuleType("__main__")
    parent_main.__spec__ = importlib.machinery.ModuleSpec(STAND_IN_MAIN, None)
    monkeypatch.setitem(sys.modules, "__main__", parent_main)
    # multiprocessing's own spawn runs the parent's main module again in every child ...
    assert _child_main(get_context("spawn")) == STAND_IN_MAIN
    # ... a Lambda worker does not (bench.compare or the CLI would bring moto into every worker).
    assert _child_main(LambdaWorkerContext()) is None
    # and a plain spawn after it is unchanged
    assert _child_main(get_context("spawn")) == STAND_IN_MAIN
