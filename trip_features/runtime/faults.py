"""A test hook: a job kills itself at a named point, so tests can stop it exactly there.

    TRIP_FEATURES_KILL_AT=publish:assembled python -m jobs.compute_features ...

Points the feature job passes: `staged:<table>` (a table written to staging and judged),
`publish:start` (every table staged, nothing published yet), `publish:assembled` (the new
version built, not yet swapped in) and, with the catalog publication, `publish:swapped:<table>`
(that table's view swapped, the next not yet). The materialize job passes
`materialized:<view>` after each feature view, and the sqlite online store
`online_write:<view>` before it commits a view's rows (the view is then marked MATERIALIZING). Unset, it costs one lookup.
"""

import os
import signal

KILL_AT = "TRIP_FEATURES_KILL_AT"


def checkpoint(point: str) -> None:
    """Kills this process with SIGKILL (no clean-up runs) when TRIP_FEATURES_KILL_AT names `point`."""
    if os.environ.get(KILL_AT) == point:
        os.kill(os.getpid(), signal.SIGKILL)
