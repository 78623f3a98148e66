"""The CLI keeps XLA's compiled programs in the user's cache folder (painnjax.compiler.use_persistent_cache)."""

from __future__ import annotations

import jax
import pytest

from painnjax.compiler import use_persistent_cache
from painnjax.io.files import user_cache_folder


@pytest.fixture
def restore_jax_cache():
    names = (
        "jax_compilation_cache_dir",
        "jax_persistent_cache_min_compile_time_secs",
        "jax_compilation_cache_max_size",
    )
    saved = {n: getattr(jax.config, n) for n in names}
    yield
    for n, v in saved.items():
        jax.config.update(n, v)


def test_user_cache_folder_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert user_cache_folder("jax") == tmp_path / "painnjax" / "jax"
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_cache_folder("monomers") == tmp_path / "home" / ".cache" / "painnjax" / "monomers"


def test_cache_set_unless_the_environment_names_one_or_turns_it_off(tmp_path, restore_jax_cache):
    folder = tmp_path / "jax"
    assert use_persistent_cache(folder, environ={"JAX_COMPILATION_CACHE_DIR": "/elsewhere"}) == "/elsewhere"
    assert jax.config.jax_compilation_cache_dir != str(folder)
    assert use_persistent_cache(folder, environ={"PAINNJAX_JAX_CACHE": "0"}) is None
    assert jax.config.jax_compilation_cache_dir != str(folder)
    assert use_persistent_cache(folder, environ={}) == str(folder)
    assert jax.config.jax_compilation_cache_dir == str(folder)
    assert jax.config.jax_persistent_cache_min_compile_time_secs == 1.0
    assert jax.config.jax_compilation_cache_max_size == 2 * 1024**3
