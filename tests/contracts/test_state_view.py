"""StateView: pending layers over the tree, and the root view's cache of tree reads."""

from __future__ import annotations

from contracts.state import StateView
from ledger.encoding import encode
from ledger.kv import MemoryKV, Overlay
from ledger.smt import EMPTY_ROOT, StateTree


class CountingTree(StateTree):
    """A state tree that counts its reads."""

    reads = 0

    def get(self, key: bytes, *, root: bytes | None = None) -> bytes | None:
        CountingTree.reads += 1
        return super().get(key, root=root)


def test_reads_are_cached_until_commit_and_never_stale() -> None:
    overlay = Overlay(MemoryKV())
    tree = CountingTree(overlay, EMPTY_ROOT)
    view = StateView(tree)
    view.put("org/a", {"v": 1})
    view.commit()
    CountingTree.reads = 0
    assert view.get("org/a") == {"v": 1}
    assert view.get("org/a") == {"v": 1}
    assert view.get("org/missing") is None
    assert view.get("org/missing") is None
    assert CountingTree.reads == 2  # one per key: absence is cached too
    child = view.child()
    assert child.get("org/a") == {"v": 1}
    assert CountingTree.reads == 2  # a child reads through its root's cache
    child.put("org/a", {"v": 2})
    assert child.get("org/a") == {"v": 2}
    assert view.get("org/a") == {"v": 1}  # the parent does not see the child's write
    child.merge_into_parent()
    view.put("org/missing", {"v": 3})
    # What the tree holds, under the pending writes: what a block's index update compares.
    assert child.committed("org/a") == encode({"v": 1})
    assert view.committed("org/missing") is None
    assert CountingTree.reads == 2
    view.commit()
    # After a commit the tree has moved on: values cached before it must not answer.
    assert view.get("org/a") == {"v": 2}
    assert view.get("org/missing") == {"v": 3}
    view.delete("org/a")
    view.commit()
    assert view.get("org/a") is None
