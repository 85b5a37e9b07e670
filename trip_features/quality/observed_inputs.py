"""A Hamilton adapter for the feature job: shared trip ids computed once per run, and the input
counts of each table observed while that table is written (no extra pass over the trips).

The job asks the Hamilton driver for one table family at a time; the graph stays the real flow
(trips_raw -> trips_typed -> shared_trip_ids -> trips_checked -> ... -> table), and this adapter
adds what a run needs around two of its nodes.
"""

from __future__ import annotations

import logging
from typing import Any

from hamilton.lifecycle import NodeExecutionMethod
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Observation

log = logging.getLogger("trip_features.quality.observed_inputs")


class ObservedInputs(NodeExecutionMethod):
    """Runs nodes as usual, except: `shared_trip_ids` is computed once (and kept while the run
    lasts), and `trips_checked` is observed with the observation of the family being computed."""

    def __init__(self, metrics: list[Column], duplicates_checked: bool):
        self.metrics = metrics
        self.duplicates_checked = duplicates_checked
        self.observation: Observation | None = None
        self._shared: DataFrame | None = None

    def run_to_execute_node(
        self, *, node_name: str, node_callable: Any, node_kwargs: dict[str, Any], **future_kwargs
    ) -> Any:
        if node_name == "shared_trip_ids" and self._shared is not None:
            return self._shared
        result = node_callable(**node_kwargs)
        if node_name == "shared_trip_ids":
            self._shared = _materialized(result) if self.duplicates_checked else result
            return self._shared
        if node_name == "trips_checked" and self.observation is not None:
            return result.observe(self.observation, *self.metrics)
        return result

    def observe(self, family: str) -> Observation:
        """A fresh observation for the next family's `trips_checked`."""
        self.observation = Observation(f"input_{family}")
        return self.observation

    def release(self) -> None:
        if self._shared is not None:
            self._shared.unpersist()


def _materialized(shared: DataFrame) -> DataFrame:
    """The shared trip ids, computed once. None shared (the usual case, one pass) becomes an
    empty local table that Spark's optimizer removes, join and all, from every plan; otherwise
    they are cached (caching costs more than the pass, so only then)."""
    if shared.isEmpty():
        return shared.limit(0)
    shared = shared.persist(StorageLevel.MEMORY_AND_DISK)
    log.warning("%d trip ids are held by more than one row", shared.count())
    return shared
