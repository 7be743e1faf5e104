"""The key/tenant lookup cache never keeps a value read before a write committed."""

from __future__ import annotations

from scheduler_local.stores import WriteGuardedCache


def test_a_value_read_before_a_write_is_not_cached_after_it() -> None:
    cache: WriteGuardedCache[str] = WriteGuardedCache()
    generation = cache.begin()  # a reader starts, reads the old row...
    cache.invalidate()  # ...a revoke commits meanwhile...
    cache.put("k", "old row", generation)  # ...and the reader tries to cache what it read
    assert cache.get("k") is None


def test_values_are_cached_until_the_next_write() -> None:
    cache: WriteGuardedCache[str] = WriteGuardedCache()
    cache.put("k", "row", cache.begin())
    assert cache.get("k") == "row"
    cache.invalidate()
    assert cache.get("k") is None
