"""Long-lived objects are kept out of full garbage-collection passes."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from compliance_shield.services.heap import freeze_long_lived, freeze_survivors


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_survivors_move_to_the_permanent_generation_and_young_garbage_is_collected_first() -> None:
    kept = [[n] for n in range(1000)]
    a, b = Node(), Node()
    a.other, b.other = b, a  # a reference cycle: garbage once dropped, freed only by the collector
    dead = weakref.ref(a)
    del a, b
    before = gc.get_freeze_count()
    freeze_survivors()
    assert dead() is None  # collected, not frozen
    assert gc.get_freeze_count() >= before + len(kept)


def test_loaded_data_is_frozen_and_garbage_collected_first() -> None:
    more = [[n] for n in range(500)]
    a, b = Node(), Node()
    a.other, b.other = b, a
    dead = weakref.ref(a)
    del a, b
    freeze_long_lived()
    assert dead() is None
    assert gc.get_freeze_count() >= len(more)
