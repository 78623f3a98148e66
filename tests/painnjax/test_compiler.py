"""painnjax's jit: XLA options measured to suit PaiNN, applied per function, same numbers."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from painnjax import compiler, energy_and_forces, potential


@pytest.fixture
def fresh_options(monkeypatch):
    compiler.compiler_options.cache_clear()
    yield monkeypatch
    compiler.compiler_options.cache_clear()


def test_options_apply_only_on_measured_jaxlib_and_can_be_switched_off(fresh_options):
    fresh_options.setattr(compiler, "_jaxlib_version", lambda: (0, 10))
    assert compiler.compiler_options() == compiler.CPU_OPTIONS
    compiler.compiler_options.cache_clear()
    fresh_options.setattr(compiler, "_jaxlib_version", lambda: (9, 99))
    assert compiler.compiler_options() == {}
    compiler.compiler_options.cache_clear()
    fresh_options.setattr(compiler, "_jaxlib_version", lambda: (0, 10))
    fresh_options.setenv("PAINNJAX_XLA_DEFAULTS", "1")
    assert compiler.compiler_options() == {}


@pytest.mark.skipif(compiler._jaxlib_version() not in compiler.MEASURED_JAXLIB, reason="options not used here")
def test_energy_and_forces_compile_without_ynn_fusions_and_agree(small_model, sa4am4):
    pot = potential(small_model, sa4am4, reference_positions=sa4am4.positions)
    R = jnp.asarray(sa4am4.positions, jnp.float32)
    ours = energy_and_forces(pot)
    plain = jax.jit(jax.value_and_grad(pot))
    if jax.default_backend() == "cpu":  # XLA's own fusions only; plain jit hands some to YNNPACK
        assert "__ynn_fusion" not in ours.lower(R).compile().as_text()
        assert "__ynn_fusion" in plain.lower(R).compile().as_text()
    e, f = ours(R)
    e0, g0 = plain(R)
    assert float(e) == pytest.approx(float(e0), rel=1e-6)
    np.testing.assert_allclose(np.asarray(f), -np.asarray(g0), rtol=1e-4, atol=1e-5)


def test_our_jitted_functions_run_inside_the_callers_jit_vmap_and_grad(small_model, sa2am2):
    """JAX takes compiler options on a top-level jit only: a painnjax function called inside
    the caller's own trace must still work (and give the same numbers)."""
    pot = potential(small_model, sa2am2)
    ef = energy_and_forces(pot)
    R = jnp.asarray(sa2am2.positions, jnp.float32)
    e, f = ef(R)
    e2, f2 = jax.jit(ef)(R)
    np.testing.assert_allclose([float(e2)], [float(e)], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(f2), np.asarray(f), rtol=1e-4, atol=1e-5)
    ev, _ = jax.jit(jax.vmap(ef))(jnp.stack([R, R]))
    np.testing.assert_allclose(np.asarray(ev), [float(e)] * 2, rtol=1e-6)
    g = jax.grad(lambda x: ef(x)[0])(R)
    np.testing.assert_allclose(np.asarray(g), -np.asarray(f), rtol=1e-4, atol=1e-5)
    const = jax.jit(lambda: ef(R)[0])()  # inside a trace, with no traced argument
    assert float(const) == pytest.approx(float(e), rel=1e-6)
