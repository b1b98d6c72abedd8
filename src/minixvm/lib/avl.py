"""A generic AVL tree keyed by int, the counterpart of MINIX's ``cavl``.

MINIX's VM keeps a process's regions, the free physical ranges and a
region's physical ranges in AVL trees; this is the one shared implementation.

Contracts common to every method:

* keys are ints and unique; values are arbitrary;
* insert, remove and search are O(log n) and none of them recurses, so the
  tree's size is bounded by memory only;
* iterators are lazy (they keep an O(log n) stack, never a copy of the tree)
  and are only valid while the tree is not modified: callers must not insert
  or remove while iterating.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

V = TypeVar("V")
D = TypeVar("D")


class Search(enum.IntEnum):
    """The relation `AVLTree.search` looks for between a stored key and the given one."""

    EQUAL = 0
    LESS = 1
    LESS_EQUAL = 2
    GREATER = 3
    GREATER_EQUAL = 4


class _Node(Generic[V]):
    __slots__ = ("key", "value", "left", "right", "height")

    def __init__(self, key: int, value: V) -> None:
        self.key = key
        self.value = value
        self.left: _Node[V] | None = None
        self.right: _Node[V] | None = None
        self.height = 1


def _height(node: _Node[V] | None) -> int:
    return 0 if node is None else node.height


def _update_height(node: _Node[V]) -> None:
    node.height = 1 + max(_height(node.left), _height(node.right))


def _rotate_left(node: _Node[V]) -> _Node[V]:
    pivot = node.right
    assert pivot is not None
    node.right = pivot.left
    pivot.left = node
    _update_height(node)
    _update_height(pivot)
    return pivot


def _rotate_right(node: _Node[V]) -> _Node[V]:
    pivot = node.left
    assert pivot is not None
    node.left = pivot.right
    pivot.right = node
    _update_height(node)
    _update_height(pivot)
    return pivot


def _rebalance(node: _Node[V]) -> _Node[V]:
    """Fix `node`'s height and balance, given AVL subtrees; return the subtree's new root."""
    left, right = node.left, node.right
    balance = _height(left) - _height(right)
    if balance > 1:
        assert left is not None
        if _height(left.left) < _height(left.right):
            node.left = _rotate_left(left)
        return _rotate_right(node)
    if balance < -1:
        assert right is not None
        if _height(right.right) < _height(right.left):
            node.right = _rotate_right(right)
        return _rotate_left(node)
    _update_height(node)
    return node


def _build(pairs: list[tuple[int, V]], lo: int, hi: int) -> _Node[V] | None:
    """Build a perfectly balanced subtree of pairs[lo:hi] (recursion depth is log2 n)."""
    if lo >= hi:
        return None
    mid = (lo + hi) // 2
    node = _Node(*pairs[mid])
    node.left = _build(pairs, lo, mid)
    node.right = _build(pairs, mid + 1, hi)
    _update_height(node)
    return node


class AVLTree(Generic[V]):
    """A balanced binary search tree mapping int keys to values of type V."""

    def __init__(self) -> None:
        self._root: _Node[V] | None = None
        self._size = 0

    @classmethod
    def from_sorted(cls, items: Iterable[tuple[int, V]]) -> AVLTree[V]:
        """Build a tree in O(n) from (key, value) pairs with strictly ascending keys.

        Raises ValueError if the keys are not strictly ascending.
        """
        pairs = list(items)
        for (before, _), (after, _) in itertools.pairwise(pairs):
            if before >= after:
                raise ValueError(f"keys not strictly ascending: {before} then {after}")
        tree = cls()
        tree._root = _build(pairs, 0, len(pairs))
        tree._size = len(pairs)
        return tree

    def __len__(self) -> int:
        return self._size

    def __bool__(self) -> bool:
        return self._size > 0

    def __contains__(self, key: object) -> bool:
        return isinstance(key, int) and self._find(key) is not None

    @property
    def height(self) -> int:
        """Levels in the tree: 0 when empty, at most about 1.44 * log2(n + 2)."""
        return _height(self._root)

    def get(self, key: int, default: D | None = None) -> V | D | None:
        """Return the value stored under `key`, or `default` if there is none."""
        node = self._find(key)
        return default if node is None else node.value

    def insert(self, key: int, value: V) -> None:
        """Store `value` under `key`; raise ValueError if `key` is already present."""
        path: list[_Node[V]] = []
        node = self._root
        while node is not None:
            if key == node.key:
                raise ValueError(f"key {key} already present")
            path.append(node)
            node = node.left if key < node.key else node.right
        leaf = _Node(key, value)
        if not path:
            self._root = leaf
        elif key < path[-1].key:
            path[-1].left = leaf
        else:
            path[-1].right = leaf
        self._size += 1
        self._retrace(path)

    def replace(self, key: int, value: V) -> None:
        """Give the existing `key` a new value; raise KeyError if it is absent."""
        node = self._find(key)
        if node is None:
            raise KeyError(key)
        node.value = value

    def rekey(self, key: int, new_key: int, value: V) -> None:
        """Move the entry at `key` to `new_key` with a new value, in place: the
        caller promises no other key lies between the two (the order stays).
        Raises KeyError if `key` is absent."""
        node = self._find(key)
        if node is None:
            raise KeyError(key)
        node.key, node.value = new_key, value

    def remove(self, key: int) -> V:
        """Remove `key` and return its value; raise KeyError if it is absent."""
        path: list[_Node[V]] = []
        node = self._root
        while node is not None and key != node.key:
            path.append(node)
            node = node.left if key < node.key else node.right
        if node is None:
            raise KeyError(key)
        value = node.value
        if node.left is not None and node.right is not None:
            # Unlinking a node with two children is done by moving its
            # successor's entry into it and unlinking the successor instead,
            # which has no left child.
            path.append(node)
            successor = node.right
            while successor.left is not None:
                path.append(successor)
                successor = successor.left
            node.key, node.value = successor.key, successor.value
            node = successor
        child = node.left if node.left is not None else node.right
        self._replace_child(path[-1] if path else None, node, child)
        self._size -= 1
        self._retrace(path)
        return value

    def search(self, key: int, how: Search) -> tuple[int, V] | None:
        """Return the (key, value) whose key is nearest to `key` while satisfying `how`.

        For example Search.LESS_EQUAL gives the entry with the greatest key <= `key`.
        Returns None if no stored key satisfies the relation.
        """
        if how == Search.EQUAL:
            node = self._find(key)
        elif how == Search.LESS or how == Search.LESS_EQUAL:
            node = self._floor(key, inclusive=how == Search.LESS_EQUAL)
        else:
            node = self._ceiling(key, inclusive=how == Search.GREATER_EQUAL)
        return None if node is None else (node.key, node.value)

    def first(self) -> tuple[int, V] | None:
        """Return the entry with the smallest key, or None if the tree is empty."""
        node = self._root
        if node is None:
            return None
        while node.left is not None:
            node = node.left
        return node.key, node.value

    def last(self) -> tuple[int, V] | None:
        """Return the entry with the greatest key, or None if the tree is empty."""
        node = self._root
        if node is None:
            return None
        while node.right is not None:
            node = node.right
        return node.key, node.value

    def items(self, start: int | None = None, reverse: bool = False) -> Iterator[tuple[int, V]]:
        """Iterate lazily over (key, value) pairs.

        Ascending from the first key >= `start` (or from the smallest key), or,
        with `reverse`, descending from the greatest key <= `start` (or from the
        greatest key). The tree must not be modified while iterating.
        """
        nodes = self._descending(start) if reverse else self._ascending(start)
        return ((node.key, node.value) for node in nodes)

    def keys(self) -> Iterator[int]:
        """Iterate lazily over the keys in ascending order."""
        return (node.key for node in self._ascending(None))

    def values(self) -> Iterator[V]:
        """Iterate lazily over the values in ascending key order."""
        return (node.value for node in self._ascending(None))

    def check(self) -> None:
        """Raise AssertionError if key order, heights, balance or the size count are wrong."""
        count = 0
        previous: int | None = None
        for node in self._ascending(None):
            left, right = _height(node.left), _height(node.right)
            # Checking each stored height against its children's stored heights
            # proves all heights correct by induction from the leaves.
            if node.height != 1 + max(left, right):
                raise AssertionError(f"key {node.key}: height {node.height} is stale")
            if abs(left - right) > 1:
                raise AssertionError(f"key {node.key}: unbalanced ({left} vs {right})")
            if previous is not None and previous >= node.key:
                raise AssertionError(f"keys out of order: {previous} before {node.key}")
            previous = node.key
            count += 1
        if count != self._size:
            raise AssertionError(f"size is {self._size} but the tree holds {count} nodes")

    def _find(self, key: int) -> _Node[V] | None:
        node = self._root
        while node is not None and key != node.key:
            node = node.left if key < node.key else node.right
        return node

    def _floor(self, key: int, inclusive: bool) -> _Node[V] | None:
        """The node with the greatest key < `key` (or <= `key` if inclusive)."""
        node, best = self._root, None
        while node is not None:
            if inclusive and key == node.key:
                return node
            if node.key < key:
                best, node = node, node.right
            else:
                node = node.left
        return best

    def _ceiling(self, key: int, inclusive: bool) -> _Node[V] | None:
        """The node with the smallest key > `key` (or >= `key` if inclusive)."""
        node, best = self._root, None
        while node is not None:
            if inclusive and key == node.key:
                return node
            if node.key > key:
                best, node = node, node.left
            else:
                node = node.right
        return best

    def _ascending(self, start: int | None) -> Iterator[_Node[V]]:
        # The stack holds the nodes whose own entry and right subtree are still
        # to be visited, with the smallest on top.
        stack: list[_Node[V]] = []
        node = self._root
        while node is not None:
            if start is None or node.key >= start:
                stack.append(node)
                node = node.left
            else:
                node = node.right
        while stack:
            node = stack.pop()
            yield node
            node = node.right
            while node is not None:
                stack.append(node)
                node = node.left

    def _descending(self, start: int | None) -> Iterator[_Node[V]]:
        # The mirror image of _ascending.
        stack: list[_Node[V]] = []
        node = self._root
        while node is not None:
            if start is None or node.key <= start:
                stack.append(node)
                node = node.right
            else:
                node = node.left
        while stack:
            node = stack.pop()
            yield node
            node = node.left
            while node is not None:
                stack.append(node)
                node = node.right

    def _replace_child(self, parent: _Node[V] | None, old: _Node[V], new: _Node[V] | None) -> None:
        if parent is None:
            self._root = new
        elif parent.left is old:
            parent.left = new
        else:
            parent.right = new

    def _retrace(self, path: list[_Node[V]]) -> None:
        """Rebalance upward along `path` (root first) after the subtree below it changed."""
        for depth in range(len(path) - 1, -1, -1):
            node = path[depth]
            old_height = node.height
            top = _rebalance(node)
            if top is not node:
                self._replace_child(path[depth - 1] if depth else None, node, top)
            # Ancestors depend only on subtree heights, so once one is
            # unchanged nothing higher up can be out of balance.
            if top.height == old_height:
                return
