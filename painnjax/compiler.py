"""How painnjax's functions are compiled: ``jax.jit`` with XLA options measured to suit PaiNN.

XLA's CPU backend of jaxlib 0.10 hands some element-wise and reduction fusions to YNNPACK.
For PaiNN's per-pair tensors (pairs × 3 × features) those ran slower than XLA's own loops:
turning them off made energy+forces of SA7AM7 ~25-35 % faster and a training step faster
still on this project's 2-core AVX-512 CPU (``benchmarks/RESULTS.md``). The numbers are the
same to float32 rounding.

The option is passed per compiled function (``jax.jit(compiler_options=...)``), never through
``XLA_FLAGS``: it then holds whatever was imported first (jax-md starts the backend on import)
and does not touch the user's other computations. It is applied only with the jaxlib versions
where it was measured (:data:`MEASURED_JAXLIB`): an option that a jaxlib does not know is an
error at compile time, and a newer XLA may have fixed the slow path. On a GPU the option is a
no-op. ``PAINNJAX_XLA_DEFAULTS=1`` in the environment keeps XLA's defaults everywhere.

Example:
    >>> import jax, jax.numpy as jnp
    >>> from painnjax.compiler import jit
    >>> double = jit(lambda x: 2 * x)
    >>> float(double(jnp.float32(1.5))), float(jax.jit(lambda x: double(x) + 1)(jnp.float32(1.5)))
    (3.0, 4.0)
"""

from __future__ import annotations

import functools
import os

import jax

#: XLA options that painnjax compiles with: no YNNPACK fusions on CPU (an empty list of types).
CPU_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": ""}
#: jaxlib (major, minor) versions on which :data:`CPU_OPTIONS` were measured to help.
MEASURED_JAXLIB = ((0, 10),)


def _jaxlib_version() -> tuple[int, int]:
    import jaxlib

    major, minor = jaxlib.__version__.split(".")[:2]
    return int(major), int(minor)


@functools.cache
def compiler_options() -> dict[str, str]:
    """The options every painnjax ``jit`` passes to XLA (empty: XLA's defaults)."""
    if os.environ.get("PAINNJAX_XLA_DEFAULTS", "") not in ("", "0"):
        return {}
    if _jaxlib_version() not in MEASURED_JAXLIB:
        return {}
    return dict(CPU_OPTIONS)


def _traced(args, kwargs) -> bool:
    return any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves((args, kwargs)))


class _Jitted:
    """A function jitted twice: with :func:`compiler_options` when called on its own, plainly
    when called inside another trace (``jax.jit``, ``vmap``, ``grad`` of the caller's), since
    JAX takes compiler options only on a top-level ``jit``; the caller's options then apply."""

    def __init__(self, fun, kwargs):
        options = compiler_options()
        self._plain = jax.jit(fun, **kwargs)
        self._tuned = jax.jit(fun, compiler_options=options, **kwargs) if options else self._plain
        functools.update_wrapper(self, fun)

    def __call__(self, *args, **kwargs):
        if self._tuned is self._plain or _traced(args, kwargs):
            return self._plain(*args, **kwargs)
        try:
            return self._tuned(*args, **kwargs)
        except ValueError as exc:  # inside a trace that none of the arguments shows
            if "compiler_options" not in str(exc):
                raise
            return self._plain(*args, **kwargs)

    def lower(self, *args, **kwargs):
        """``jax.jit(...).lower`` with the options: for ``.lower(...).compile()`` at top level."""
        return self._tuned.lower(*args, **kwargs)

    def __getattr__(self, name):  # the rest of a jitted function's API (trace, eval_shape, ...)
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.__dict__["_tuned"], name)


def jit(fun=None, /, **kwargs):
    """``jax.jit`` with :func:`compiler_options`; the same arguments (also as a decorator
    factory: ``@functools.partial(jit, static_argnames=...)``). The result may be called inside
    the caller's own ``jax.jit`` too (it is then compiled with the caller's options)."""
    if fun is None:
        return functools.partial(jit, **kwargs)
    return _Jitted(fun, kwargs)


#: Compiles shorter than this (s) are not kept in the persistent cache: they cost less than a disk read.
PERSISTENT_CACHE_MIN_SECONDS = 1.0
#: At most this many bytes in the cache; JAX removes the least recently used programs beyond it (one
#: float64 thermo Hessian of SA2AM2 with its monomers took 82 MB).
PERSISTENT_CACHE_MAX_BYTES = 2 * 1024**3


def use_persistent_cache(folder, environ=os.environ) -> str | None:
    """Keep XLA's compiled programs in ``folder`` (JAX's persistent compilation cache), so that a command
    run again compiles nothing: a thermo Hessian of SA2AM2 in float64 spent ~30 s of ~35 s compiling.

    Left alone when the environment already names a cache (``JAX_COMPILATION_CACHE_DIR``, e.g. the test
    suite's) or turns it off (``PAINNJAX_JAX_CACHE=0``). At most :data:`PERSISTENT_CACHE_MAX_BYTES`.
    Returns the folder in use, or None.
    """
    if environ.get("PAINNJAX_JAX_CACHE", "1") == "0":
        return None
    if environ.get("JAX_COMPILATION_CACHE_DIR"):
        return environ["JAX_COMPILATION_CACHE_DIR"]
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", PERSISTENT_CACHE_MIN_SECONDS)
    jax.config.update("jax_compilation_cache_max_size", PERSISTENT_CACHE_MAX_BYTES)
    return str(folder)
