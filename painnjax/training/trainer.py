"""The trainer: a model's weights, optimiser state and moving average, and the jitted steps
that train and validate them.

The optimiser is optax AdamW at unit rate, its updates scaled by the epoch's learning rate
(:func:`make_optimizer`), so a schedule changes the rate without a recompile. With
``ema_decay`` an exponential moving average of the weights is kept, and it is what is
validated and saved (:attr:`Trainer.eval_params`). Frozen weights
(:mod:`painnjax.training.finetune`) are masked out of the update. A batch is split over all
local devices that divide it (data parallel, :func:`data_parallel_devices`). The loop over
epochs that drives a trainer is :mod:`painnjax.training.fit`.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from painnjax.compiler import jit
from painnjax.data.batching import Batch, Bucket
from painnjax.data.dataset import reference_atomref
from painnjax.data.packing import Packed
from painnjax.devices import all_process_devices, distributed
from painnjax.errors import InputError
from painnjax.model import Model
from painnjax.potential import cast_variables
from painnjax.training.config import TrainConfig
from painnjax.training.finetune import trainable_mask
from painnjax.training.loss import loss_and_sums, packed_loss_and_sums


def make_optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    """AdamW at unit learning rate: the step multiplies its updates by the epoch's rate, which
    equals ``optax.adamw(lr)`` exactly (the rate scales the Adam step and the weight decay
    alike) and lets the schedule change the rate without a recompile."""
    steps = [optax.clip_by_global_norm(cfg.clip_norm)] if cfg.clip_norm else []
    return optax.chain(*steps, optax.adamw(1.0, weight_decay=cfg.weight_decay))


def data_parallel_devices(cfg: TrainConfig) -> list:
    """The local devices a batch is split over: ``cfg.n_devices`` of them, or with 0 the most
    that divide the batch size evenly (one device when only one does)."""
    if distributed():  # a multi-process job: every device of every process, each with its share
        return all_process_devices(cfg.batch_size, "batch_size")
    local = jax.local_devices()
    if cfg.n_devices:
        if cfg.n_devices > len(local):
            raise InputError(f"n_devices = {cfg.n_devices}, but only {len(local)} local device(s) are present")
        if cfg.batch_size % cfg.n_devices:
            raise InputError(f"batch_size {cfg.batch_size} must be a multiple of n_devices {cfg.n_devices}")
        return local[: cfg.n_devices]
    n = max(k for k in range(1, len(local) + 1) if cfg.batch_size % k == 0)
    return local[:n]


def _step_key(cfg: TrainConfig) -> TrainConfig:
    """The options a compiled step depends on, as a config with every other field at its default.

    Compiled steps are cached by (module, cutoff, pair capacity, this key) and the batch
    shapes, so runs that differ in anything else (epochs, seed, learning rate and its schedule:
    the rate is an argument) share one compile: a resumed run, committee members and
    active-learning rounds compile once per process.
    """
    return TrainConfig(
        loss=cfg.loss,
        energy_weight=cfg.energy_weight,
        weight_decay=cfg.weight_decay,
        clip_norm=cfg.clip_norm,
        ema_decay=cfg.ema_decay,
    )


def _update(params, opt_state, ema, grads, lr, key, mask):
    """AdamW at unit rate scaled by ``lr`` (:func:`make_optimizer`), then the moving average.
    ``mask`` (None: all trained): 0 where a weight is frozen; its update and average are skipped."""
    updates, opt_state = make_optimizer(key).update(grads, opt_state, params)
    updates = jax.tree_util.tree_map(lambda u: u * lr.astype(u.dtype), updates)
    if mask is not None:
        updates = jax.tree_util.tree_map(lambda u, m: u * m.astype(u.dtype), updates, mask)
    params = optax.apply_updates(params, updates)
    if ema is not None:
        decay = key.ema_decay
        ema = jax.tree_util.tree_map(lambda a, p: decay * a + (1.0 - decay) * p, ema, params)
        if mask is not None:  # a frozen weight's average is the weight, bit for bit
            ema = jax.tree_util.tree_map(lambda a, p, m: jnp.where(m > 0, a, p), ema, params, mask)
    return params, opt_state, ema


@partial(jit, static_argnames=("module", "cutoff", "capacity", "key", "groups"))
def _train_step(params, constants, opt_state, ema, batch, lr, mask, *, module, cutoff, capacity, key, groups):
    """One optimiser step on a padded batch (size buckets)."""

    def loss(p):
        return loss_and_sums(p, constants, module, batch, cutoff, capacity, key, groups)

    (_, sums), grads = jax.value_and_grad(loss, has_aux=True)(params)
    return *_update(params, opt_state, ema, grads, lr, key, mask), sums


@partial(jit, static_argnames=("module", "key"))
def _train_step_packed(params, constants, opt_state, ema, packed, lr, mask, *, module, key):
    """One optimiser step on a packed batch (compiled once per budget's shapes)."""

    def loss(p):
        return packed_loss_and_sums(p, constants, module, packed, key)

    (_, sums), grads = jax.value_and_grad(loss, has_aux=True)(params)
    return *_update(params, opt_state, ema, grads, lr, key, mask), sums


@partial(jit, static_argnames=("module", "cutoff", "capacity", "key", "groups"))
def _eval_sums(params, constants, batch, *, module, cutoff, capacity, key, groups):
    """The error sums of one batch (no step)."""
    return loss_and_sums(params, constants, module, batch, cutoff, capacity, key, groups)[1]


class Trainer:
    """Jitted train and evaluation steps, one compile per bucket shape (shared between trainers).

    With several devices (:func:`data_parallel_devices`) the batch axis is sharded over a
    one-axis mesh and the weights replicated; XLA then runs the per-structure work on each
    device and all-reduces the gradient sums, so the step computes the same numbers as on one
    device (up to the order of floating-point sums).
    """

    def __init__(self, model: Model, cfg: TrainConfig, buckets: list[Bucket]):
        self.cfg = cfg
        # one GEMM per layer's filters: faster in the double backward of a training step
        self.module = model.module.clone(fused_filters=True)
        self.cutoff = model.config.cutoff
        self.buckets = buckets
        self.optimizer = make_optimizer(cfg)
        self.devices = data_parallel_devices(cfg)
        variables = cast_variables(model.variables, cfg.dtype)
        self.params, self.constants = variables["params"], variables["constants"]
        self.opt_state = self.optimizer.init(self.params)
        self.ema_params = self.params if cfg.ema_decay else None
        # 0/1 per weight, None when all are trained (painnjax.training.finetune)
        self.mask = trainable_mask(self.params, model.config, cfg.freeze_embedding, cfg.freeze_interactions)
        self._batch_sharding = None
        if len(self.devices) > 1:
            from jax.sharding import Mesh, NamedSharding, PartitionSpec

            mesh = Mesh(np.asarray(self.devices), ("data",))
            self._batch_sharding = NamedSharding(mesh, PartitionSpec("data"))
            self._replicated = NamedSharding(mesh, PartitionSpec())
            self.constants = self.replicate(self.constants)
            self.params, self.opt_state = self.replicate(self.params), self.replicate(self.opt_state)
            self.ema_params = self.replicate(self.ema_params)
            self.mask = self.replicate(self.mask)

    def replicate(self, tree):
        """``tree`` on every device of the mesh (unchanged on one device)."""
        if self._batch_sharding is None or tree is None:
            return tree
        return jax.device_put(tree, self._replicated)

    @property
    def eval_params(self):
        """The weights that are validated and saved: the moving average when EMA is on."""
        return self.params if self.ema_params is None else self.ema_params

    def _static(self, b: int) -> dict:
        return {
            "module": self.module,
            "cutoff": self.cutoff,
            "capacity": self.buckets[b].pair_capacity,
            "key": _step_key(self.cfg),
            "groups": len(self.devices),  # one graph per device: no pair crosses devices
        }

    def step(self, b: int, batch: Batch, lr: float) -> dict:
        """One optimiser step on ``batch`` (bucket ``b``) at learning rate ``lr``."""
        lr = jnp.asarray(lr, jnp.dtype(self.cfg.dtype))
        self.params, self.opt_state, self.ema_params, sums = _train_step(
            self.params,
            self.constants,
            self.opt_state,
            self.ema_params,
            self._device(batch),
            lr,
            self.mask,
            **self._static(b),
        )
        return sums

    def step_packed(self, packed: Packed, lr: float) -> dict:
        """One optimiser step on a packed batch (:mod:`painnjax.data.packing`) with one group
        per device (``len(self.devices)``)."""
        if packed.Z.shape[0] != len(self.devices):
            raise ValueError(f"the batch has {packed.Z.shape[0]} groups for {len(self.devices)} device(s)")
        lr = jnp.asarray(lr, jnp.dtype(self.cfg.dtype))
        f = jnp.dtype(self.cfg.dtype)
        floats = {"R", "energy", "forces", "weight"}
        arrays = Packed(*(np.asarray(a, f) if k in floats else np.asarray(a) for k, a in zip(Packed._fields, packed)))
        if self._batch_sharding is None:
            arrays = Packed(*map(jnp.asarray, arrays))
        else:
            arrays = Packed(*(jax.device_put(a, self._batch_sharding) for a in arrays))
        self.params, self.opt_state, self.ema_params, sums = _train_step_packed(
            self.params,
            self.constants,
            self.opt_state,
            self.ema_params,
            arrays,
            lr,
            self.mask,
            module=self.module,
            key=_step_key(self.cfg),
        )
        return sums

    def evaluate_sums(self, b: int, batch: Batch) -> dict:
        """The error sums of ``batch`` (bucket ``b``) with the weights that are validated."""
        return _eval_sums(self.eval_params, self.constants, self._device(batch), **self._static(b))

    def _device(self, batch: Batch) -> Batch:
        f = jnp.dtype(self.cfg.dtype)
        arrays = (
            np.asarray(batch.Z),
            np.asarray(batch.R, f),
            np.asarray(batch.atom_mask),
            np.asarray(batch.energy, f),
            np.asarray(batch.forces, f),
            np.asarray(batch.weight, f),
        )
        if self._batch_sharding is None:
            return Batch(*map(jnp.asarray, arrays))
        return Batch(*(jax.device_put(a, self._batch_sharding) for a in arrays))

    def model(self, template: Model) -> Model:
        """The current weights as a model that predicts total energies (eV).

        Training targets are reference-subtracted (binding or element-offset energies, better
        resolved in float32); the reference is folded into ``atomref`` here, exactly.
        """
        reference = template.metadata["energy_reference"]
        constants = jax.tree_util.tree_map(np.asarray, jax.device_get(self.constants))
        meta = dict(template.metadata)
        if "delta" not in reference and reference.get("kind") != "total":
            constants = {
                **constants,
                "atomref": (
                    constants["atomref"].astype(np.float64) + reference_atomref(reference, template.config.max_z)
                ),
            }
            meta["energy_reference"] = {"kind": "total", "trained_on": reference}
        variables = {"params": jax.device_get(self.eval_params), "constants": constants}
        return Model(template.config, variables, meta)
