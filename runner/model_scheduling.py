"""pytest-xdist scheduling by model size: every item of one size goes to one worker, so each size loads once.

xdist's ``loadscope`` already hands out whole groups of items ("scopes") and never splits one; only the grouping
is scalecheck's: a behaviour x model item's scope is its model's label, any other item is a scope of its own.
Imported only by the xdist hook, so pytest-xdist stays an optional extra.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling


class ModelScheduling(LoadScopeScheduling):
    def __init__(self, config: pytest.Config, log: Any, *, models: Mapping[str, str]) -> None:
        super().__init__(config, log)
        self.models = dict(models)
        """The model label of each behaviour item's node id, from the controller's own collection."""

    def _split_scope(self, nodeid: str) -> str:
        return self.models.get(nodeid, nodeid)

    def remove_node(self, node: Any) -> str | None:
        """A worker that crashed in an item: that item is marked done before the rest of its size is handed on, so
        it is reported once as a crash (xdist's own loadscope would run it again on every replacement worker,
        loading the model each time); its size's other items still run."""
        crashed = next(
            (nodeid for unit in self.assigned_work.get(node, {}).values() for nodeid, done in unit.items() if not done),
            None,
        )
        for unit in self.assigned_work.get(node, {}).values():
            if crashed in unit:
                unit[crashed] = True
        rescheduled = super().remove_node(node)
        return crashed if crashed is not None else rescheduled
