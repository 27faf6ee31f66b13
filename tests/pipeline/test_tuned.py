"""runtime.tuned: the garbage collector of a run (thresholds raised, what is alive frozen out of its scans)."""

from __future__ import annotations

import gc

from baltetl import runtime


def test_a_nested_tuned_freezes_what_was_made_since_the_outer_one():
    # the CLI's tuned() starts before Prefect is imported, its run's after: Prefect's objects are frozen then
    before = gc.get_threshold()
    # (checked by the objects themselves: the freeze count also falls when another thread frees a frozen object)
    with runtime.tuned():
        made = [[i] for i in range(1000)]  # 1,000 tracked objects, alive
        ids = {id(x) for x in made}
        assert sum(id(o) in ids for o in gc.get_objects()) == len(made)  # in the collector's generations
        with runtime.tuned():
            assert not any(id(o) in ids for o in gc.get_objects())  # frozen: out of them
        assert gc.get_threshold() == (50_000, 20, 20)  # the outer one still holds
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before
