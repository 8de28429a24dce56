"""The contract every tile cache backend meets (subclass ``CacheContract`` for a new one)."""

from __future__ import annotations

import pytest

from tiles.cache import BACKENDS, FileTileCache, InvalidTileAddress, MemoryTileCache


class CacheContract:
    """Shared tests; a subclass provides ``make_cache(tmp_path)``."""

    def make_cache(self, tmp_path):
        raise NotImplementedError

    @pytest.fixture
    def cache(self, tmp_path):
        return self.make_cache(tmp_path)

    def test_store_load_remove(self, cache):
        assert cache.load("schools", "public", 3, 1, 2) is None
        cache.store("schools", "public", 3, 1, 2, b"abc")
        assert cache.load("schools", "public", 3, 1, 2) == b"abc"
        assert cache.load("schools", "full", 3, 1, 2) is None  # audiences are apart
        cache.store("schools", "public", 3, 1, 2, b"new")
        assert cache.load("schools", "public", 3, 1, 2) == b"new"
        assert cache.remove("schools", "public", 3, 1, 2) is True
        assert cache.remove("schools", "public", 3, 1, 2) is False
        assert cache.load("schools", "public", 3, 1, 2) is None

    def test_empty_tiles_are_cached_too(self, cache):
        cache.store("schools", "public", 0, 0, 0, b"")
        assert cache.load("schools", "public", 0, 0, 0) == b""

    def test_keys_and_combined_keys(self, cache):
        cache.store("schools", "public", 0, 0, 0, b"a")
        cache.store("cameras,schools", "full", 0, 0, 0, b"b")
        cache.store("roads", "public", 0, 0, 0, b"c")
        assert set(cache.keys()) >= {"schools", "cameras,schools", "roads"}
        assert set(cache.keys_with_layer("schools")) == {"schools", "cameras,schools"}

    def test_remove_ranges_removes_exactly_the_range_in_every_audience(self, cache):
        for audience in ("public", "full"):
            for x in range(4):
                for y in range(4):
                    cache.store("schools", audience, 2, x, y, b"t")
            cache.store("schools", audience, 3, 1, 1, b"t")
        removed = cache.remove_ranges("schools", {2: (1, 1, 2, 3)})
        assert removed == 2 * 6
        left = set(cache.tiles("schools"))
        for audience in ("public", "full"):
            for x in range(4):
                for y in range(4):
                    inside = 1 <= x <= 2 and 1 <= y <= 3
                    assert ((audience, 2, x, y) in left) is not inside
            assert (audience, 3, 1, 1) in left  # other zooms untouched

    def test_clear(self, cache):
        cache.store("schools", "public", 0, 0, 0, b"a")
        cache.store("roads", "public", 0, 0, 0, b"a")
        cache.clear("schools")
        assert cache.load("schools", "public", 0, 0, 0) is None
        assert cache.load("roads", "public", 0, 0, 0) == b"a"
        cache.clear()
        assert cache.load("roads", "public", 0, 0, 0) is None

    def test_epochs_change_on_bump(self, cache):
        before = cache.epoch("schools")
        cache.bump_epoch("schools")
        after = cache.epoch("schools")
        assert after != before
        cache.bump_epoch("schools")
        assert cache.epoch("schools") != after
        assert cache.epoch("roads") == ""

    @pytest.mark.parametrize(
        ("key", "audience", "z", "x", "y"),
        [
            ("../etc", "public", 0, 0, 0),
            ("schools", "../..", 0, 0, 0),
            ("schools/x", "public", 0, 0, 0),
            ("schools", "public", -1, 0, 0),
            ("schools", "public", 0, "0/../..", 0),
            ("", "public", 0, 0, 0),
            (".epochs", "public", 0, 0, 0),
        ],
    )
    def test_refuses_addresses_outside_the_cache(self, cache, key, audience, z, x, y):
        with pytest.raises(InvalidTileAddress):
            cache.store(key, audience, z, x, y, b"x")


class TestFileTileCache(CacheContract):
    def make_cache(self, tmp_path):
        return FileTileCache(tmp_path / "cache")

    def test_layout_is_what_nginx_serves(self, tmp_path):
        cache = self.make_cache(tmp_path)
        cache.store("schools", "public", 5, 25, 14, b"x")
        path = tmp_path / "cache" / "schools" / "public" / "5" / "25" / "14.mvt"
        assert path.read_bytes() == b"x"
        assert oct(path.stat().st_mode & 0o777) == "0o644"

    def test_remembered_bytes_never_outlive_the_file(self, tmp_path, monkeypatch):
        """load() remembers files older than a clock tick; a replacement of the same size,
        even one that reuses the inode, is read again (another process's store, here)."""
        reader, writer = self.make_cache(tmp_path), self.make_cache(tmp_path)
        monkeypatch.setattr(FileTileCache, "MEMO_MIN_AGE_NS", 0)  # remember at once
        for version in range(20):
            data = f"tile-{version:04d}".encode()  # same size every time
            writer.store("schools", "public", 9, 1, 2, data)
            assert reader.load("schools", "public", 9, 1, 2) == data
            assert reader.load("schools", "public", 9, 1, 2) == data  # from memory
            if version % 2:
                writer.remove("schools", "public", 9, 1, 2)
                assert reader.load("schools", "public", 9, 1, 2) is None


class TestMemoryTileCache(CacheContract):
    def make_cache(self, tmp_path):
        return MemoryTileCache()


def test_every_backend_has_a_contract_suite():
    tested = {cls().make_cache.__qualname__.split(".")[0] for cls in CacheContract.__subclasses__()}
    assert {f"Test{backend.__name__}" for backend in BACKENDS.values()} <= tested
