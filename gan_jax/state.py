"""The train state of every family: variables and optimizer state per named network.

    state.nets["g"].params          G's parameters
    state.nets["d"].collections     D's other variable collections (batch_stats, spectral_norm, ...)
    state.nets["g"].opt_state       G's optimizer state (hyper-parameters inside, as arrays)
    state.ema["g"]                  averaged copies a family asks for ({"params", "batch_stats"})
    state.hparams                   the losses' numeric hyper-parameters, as arrays
    state.extras                    the state of optional parts (replay buffer, image pools, ...)

Two networks or four are the same code. Each network's optimizer is built once and travels with it
(a static field, like flax's TrainState.tx). Every number a sweep may vary (learning rates and betas
through `optax.inject_hyperparams`, loss weights in `hparams`) is an array in the state, so a stack
of states with different values trains under `jax.vmap`.
"""
from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax

from gan_jax.errors import UserError

PyTree = Any


@flax.struct.dataclass
class Net:
  """One network's trained variables and its optimizer."""
  params: PyTree
  collections: dict  # The other variable collections (batch_stats, spectral_norm, ...).
  opt_state: PyTree
  tx: optax.GradientTransformation = flax.struct.field(pytree_node=False)

  def variables(self, params=None):
    """The variables for `module.apply`, with `params` in place of the network's own if given."""
    return {"params": self.params if params is None else params, **self.collections}

  def apply_gradients(self, grads, scale=None):
    """One optimizer update. `scale` multiplies the update (a learning-rate schedule's factor:
    for Adam, scaling the update is scaling the learning rate)."""
    updates, opt_state = self.tx.update(grads, self.opt_state, self.params)
    if scale is not None:
      updates = jax.tree.map(lambda u: u * scale, updates)
    return self.replace(params=optax.apply_updates(self.params, updates), opt_state=opt_state)


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  nets: dict     # name -> Net
  ema: dict      # name -> averaged variables ({} when no network is averaged)
  hparams: dict  # name -> float32 array
  extras: dict   # name -> pytree

  def params(self):
    """Every network's parameters, by name."""
    return {name: net.params for name, net in self.nets.items()}


def init_net(variables, tx):
  """A Net from `module.init`'s variables and its optimizer."""
  collections = dict(variables)
  params = collections.pop("params")
  return Net(params=params, collections=collections, opt_state=tx.init(params), tx=tx)


def new_state(nets, hparams, ema=None, extras=None):
  return TrainState(step=jnp.zeros((), jnp.int32), nets=nets, ema=ema or {},
                    hparams=jax.tree.map(lambda v: jnp.asarray(v, jnp.float32), dict(hparams)),
                    extras=extras or {})


_OPTIMIZERS = {
    "adam": lambda c: optax.inject_hyperparams(optax.adam)(
        learning_rate=c.learning_rate, b1=c.get("b1", 0.9), b2=c.get("b2", 0.999),
        eps=c.get("eps", 1e-8), eps_root=c.get("eps_root", 0.0)),
    "rmsprop": lambda c: optax.inject_hyperparams(optax.rmsprop)(
        learning_rate=c.learning_rate, decay=c.get("decay", 0.99), eps=c.get("eps", 1e-8)),
    "sgd": lambda c: optax.inject_hyperparams(optax.sgd)(
        learning_rate=c.learning_rate, momentum=c.get("momentum", 0.0) or None),
}
OPTIMIZER_NAMES = tuple(_OPTIMIZERS)


def make_optimizer(opt_config, which):
  """An optax optimizer whose hyper-parameters live in its state (`inject_hyperparams`).

  `which` names the config entry in errors ('g' for g_optimizer).
  """
  if opt_config.name not in _OPTIMIZERS:
    raise UserError(f"{which}_optimizer.name={opt_config.name!r} is unknown; allowed: "
                    f"{', '.join(_OPTIMIZERS)}")
  return _OPTIMIZERS[opt_config.name](opt_config)


def optimizer_numbers(txs):
  """The numeric hyper-parameters of optimizers {name: tx}: what a sweep member sets per network."""
  return {name: tx.init(jnp.zeros(())).hyperparams for name, tx in txs.items()}


def with_numbers(state, hparams, opt_numbers):
  """`state` with the loss hyper-parameters and the optimizers' hyper-parameters replaced (values
  are cast to the dtypes the state holds)."""
  cast = lambda new, old: jnp.asarray(new, jnp.asarray(old).dtype)
  nets = {}
  for name, net in state.nets.items():
    hyper = jax.tree.map(cast, opt_numbers[name], net.opt_state.hyperparams)
    nets[name] = net.replace(opt_state=net.opt_state._replace(hyperparams=hyper))
  return state.replace(nets=nets, hparams=jax.tree.map(cast, hparams, state.hparams))

