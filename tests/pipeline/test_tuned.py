"""runtime.tuned: the garbage collector of a run (thresholds raised, what is alive frozen out of its scans)."""

from __future__ import annotations

import gc

from baltetl import runtime


def test_a_nested_tuned_freezes_what_was_made_since_the_outer_one():
    # the CLI's tuned() starts before Prefect is imported, its run's after: Prefect's objects are frozen then
    before = gc.get_threshold()
    with runtime.tuned():
        outer = gc.get_freeze_count()
        made = [[i] for i in range(1000)]  # 1,001 tracked objects, alive
        with runtime.tuned():
            assert gc.get_freeze_count() >= outer + len(made)
        assert gc.get_threshold() == (50_000, 20, 20)  # the outer one still holds
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before
