"""Tests for minixvm.lib.avl: a model-based state machine plus targeted examples."""

import math
import operator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from minixvm.lib.avl import AVLTree, Search

RELATIONS = {
    Search.EQUAL: operator.eq,
    Search.LESS: operator.lt,
    Search.LESS_EQUAL: operator.le,
    Search.GREATER: operator.gt,
    Search.GREATER_EQUAL: operator.ge,
}


def model_search(model: dict[int, str], key: int, how: Search) -> tuple[int, str] | None:
    """Brute force: the nearest key satisfying the relation."""
    matches = [k for k in model if RELATIONS[how](k, key)]
    if not matches:
        return None
    best = max(matches) if how in (Search.LESS, Search.LESS_EQUAL) else min(matches)
    return best, model[best]


def model_items(model: dict[int, str], start: int | None, reverse: bool) -> list[tuple[int, str]]:
    pairs = sorted(model.items(), reverse=reverse)
    if start is None:
        return pairs
    if reverse:
        return [(k, v) for k, v in pairs if k <= start]
    return [(k, v) for k, v in pairs if k >= start]


keys = st.integers(-40, 40)


class AVLMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tree: AVLTree[str] = AVLTree()
        self.model: dict[int, str] = {}

    @rule(key=keys, value=st.text(max_size=2))
    def insert(self, key: int, value: str) -> None:
        if key in self.model:
            with pytest.raises(ValueError):
                self.tree.insert(key, value)
        else:
            self.tree.insert(key, value)
            self.model[key] = value

    @rule(key=keys)
    def remove(self, key: int) -> None:
        if key in self.model:
            assert self.tree.remove(key) == self.model.pop(key)
        else:
            with pytest.raises(KeyError):
                self.tree.remove(key)

    @rule(key=keys, how=st.sampled_from(Search))
    def search(self, key: int, how: Search) -> None:
        assert self.tree.search(key, how) == model_search(self.model, key, how)

    @rule(key=keys)
    def lookup(self, key: int) -> None:
        assert (key in self.tree) == (key in self.model)
        assert self.tree.get(key, "absent") == self.model.get(key, "absent")

    @rule(start=st.none() | keys, reverse=st.booleans())
    def items(self, start: int | None, reverse: bool) -> None:
        assert list(self.tree.items(start, reverse)) == model_items(self.model, start, reverse)

    @invariant()
    def consistent(self) -> None:
        self.tree.check()
        ordered = sorted(self.model.items())
        assert len(self.tree) == len(self.model)
        assert bool(self.tree) == bool(self.model)
        assert self.tree.first() == (ordered[0] if ordered else None)
        assert self.tree.last() == (ordered[-1] if ordered else None)
        assert list(self.tree.keys()) == [k for k, _ in ordered]
        assert list(self.tree.values()) == [v for _, v in ordered]


TestAVLMachine = AVLMachine.TestCase
TestAVLMachine.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)


def avl_height_bound(n: int) -> float:
    return 1.45 * math.log2(n) + 2


@given(st.lists(st.integers(-(10**6), 10**6), unique=True))
@settings(max_examples=50)
def test_from_sorted_builds_a_valid_tree(keys_: list[int]) -> None:
    pairs = [(k, str(k)) for k in sorted(keys_)]
    tree = AVLTree.from_sorted(pairs)
    tree.check()
    assert list(tree.items()) == pairs
    assert len(tree) == len(pairs)


@pytest.mark.parametrize("keys_", [[1, 1], [2, 1], [1, 3, 2]])
def test_from_sorted_rejects_keys_not_strictly_ascending(keys_: list[int]) -> None:
    with pytest.raises(ValueError):
        AVLTree.from_sorted((k, None) for k in keys_)


def test_from_sorted_tree_accepts_updates() -> None:
    tree = AVLTree.from_sorted((k, k) for k in range(0, 100, 2))
    tree.insert(51, 51)
    assert tree.remove(50) == 50
    tree.check()
    assert tree.search(50, Search.GREATER_EQUAL) == (51, 51)


def test_duplicate_insert_leaves_tree_unchanged() -> None:
    tree = AVLTree.from_sorted([(1, "a"), (2, "b")])
    with pytest.raises(ValueError):
        tree.insert(2, "c")
    assert list(tree.items()) == [(1, "a"), (2, "b")]
    tree.check()


def test_missing_remove_raises_key_error() -> None:
    tree: AVLTree[int] = AVLTree()
    with pytest.raises(KeyError):
        tree.remove(7)
    tree.insert(7, 7)
    with pytest.raises(KeyError):
        tree.remove(8)


def test_empty_tree() -> None:
    tree: AVLTree[int] = AVLTree()
    assert not tree
    assert tree.height == 0
    assert tree.first() is None and tree.last() is None
    assert tree.search(0, Search.GREATER_EQUAL) is None
    assert list(tree.items(5, reverse=True)) == []
    assert tree.get(1) is None
    tree.check()


def test_contains_ignores_non_int_keys() -> None:
    tree = AVLTree.from_sorted([(1, "a")])
    assert "1" not in tree
    assert 1 in tree


def test_ascending_inserts_keep_height_logarithmic() -> None:
    n = 100_000
    tree: AVLTree[None] = AVLTree()
    for key in range(n):
        tree.insert(key, None)
    assert tree.height <= avl_height_bound(n)
    tree.check()


def test_removals_keep_height_logarithmic() -> None:
    n = 20_000
    tree = AVLTree.from_sorted((k, None) for k in range(n))
    for key in range(0, n, 3):  # thin out unevenly from one side
        tree.remove(key)
    for key in range(n - 1, n // 2, -1):
        if key in tree:
            tree.remove(key)
    tree.check()
    assert tree.height <= avl_height_bound(len(tree))


def test_items_is_lazy_and_starts_between_keys() -> None:
    tree = AVLTree.from_sorted((k, k) for k in range(0, 1000, 10))
    ascending = tree.items(start=15)
    assert next(ascending) == (20, 20)
    assert next(ascending) == (30, 30)
    descending = tree.items(start=15, reverse=True)
    assert next(descending) == (10, 10)
    assert next(descending) == (0, 0)
    assert next(descending, None) is None


def test_check_detects_corruption() -> None:
    tree = AVLTree.from_sorted((k, k) for k in range(7))
    root = tree._root
    assert root is not None
    root.height += 1
    with pytest.raises(AssertionError, match="height"):
        tree.check()
    root.height -= 1
    root.key = 100
    with pytest.raises(AssertionError, match="order"):
        tree.check()
    root.key = 3
    tree._size += 1
    with pytest.raises(AssertionError, match="size"):
        tree.check()


def test_replace_changes_a_value_in_place() -> None:
    tree = AVLTree.from_sorted((k, str(k)) for k in range(10))
    tree.replace(4, "four")
    assert tree.get(4) == "four" and len(tree) == 10
    tree.check()
    with pytest.raises(KeyError):
        tree.replace(42, "x")
