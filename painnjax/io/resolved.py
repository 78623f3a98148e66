"""A model resolved once: read, checked and identified, with its label and committee, as one value.

A command that uses one model in several steps (``painnjax screen --rank-by G --committee M2``
minimises with it, takes the committee's spread on the kept minima, records its identity and
ranks the minima by free energy) calls :func:`resolve_model` once and passes the
:class:`ResolvedModel` on: every step takes it as its ``model``, and none reads the file or
hashes the weights again. Where a step also accepts a plain function in place of a model (an
analytic potential in tests), :func:`resolve_model` keeps it as ``function``, with no identity.

Example:
    >>> m = resolve_model("saam-gfn1", committee=["saam-gfn1"])   # doctest: +SKIP
    >>> m.label, m.identity[:7], len(m.committee)                  # doctest: +SKIP
    ('saam-gfn1', 'sha256:', 1)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from painnjax.errors import InputError
from painnjax.io.modelfile import load_model, model_identity
from painnjax.model import Model


@dataclass(frozen=True, eq=False)
class ResolvedModel:
    """A model and what the steps that use it need to know of it; built by :func:`resolve_model`.

    Attributes:
        model: the painnjax :class:`~painnjax.model.Model`; None when a plain function was given.
        identity: :func:`~painnjax.io.modelfile.model_identity` of ``model`` (``"sha256:..."``),
            what run folders record; None for a function.
        label: how records and messages name it: the file or bundled name as given, the model's
            ``metadata["name"]`` or ``"(model in memory)"``, or ``"energy function <name>"``.
        source: the file or bundled name it was read from, as given; None for a model in memory
            or a function.
        function: the callable given in place of a model (its calling convention is that of the
            step it is given to), else None.
        committee: further models (read once), whose spread flags uncertain results.
    """

    model: Model | None
    identity: str | None
    label: str
    source: str | None = None
    function: Callable | None = None
    committee: tuple[Model, ...] = ()


def is_model_reference(model) -> bool:
    """Whether ``model`` names or holds a painnjax model (a file, bundled name, ``Model`` or
    :class:`ResolvedModel`), rather than a plain function given in its place."""
    return isinstance(model, (str, os.PathLike, Model, ResolvedModel)) or not callable(model)


def resolve_model(model, committee: Sequence = ()) -> ResolvedModel:
    """``model`` (a model file, bundled name, ``Model``, a plain function, or a :class:`ResolvedModel`)
    read and identified once, with the ``committee`` (files, names or ``Model``) read once.

    A :class:`ResolvedModel` is returned as it is (given ``committee``, with that committee
    instead). A committee needs a painnjax model: with a plain function it is refused.
    """
    if isinstance(model, ResolvedModel):
        if not committee:
            return model
        if model.model is None:
            raise InputError("a committee needs painnjax models, not a plain energy function")
        return replace(model, committee=tuple(load_model(m) for m in committee))
    if not is_model_reference(model):
        if committee:
            raise InputError("a committee needs painnjax models, not a plain energy function")
        name = getattr(model, "__qualname__", type(model).__name__)
        return ResolvedModel(None, None, f"energy function {name}", function=model)
    loaded = load_model(model)
    if isinstance(model, Model):
        label, source = str(model.metadata.get("name") or "(model in memory)"), None
    else:
        label = source = str(model)
    return ResolvedModel(
        loaded, model_identity(loaded), label, source, committee=tuple(load_model(m) for m in committee)
    )
