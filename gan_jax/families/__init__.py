"""GAN families: `config.family` picks one; the loop, checkpoints, sweeps and metrics are shared.

A family is a package `gan_jax.families.<name>` whose `family.py` defines

  load_data(config) -> data.Dataset        the fields its step reads (named by the family)
  build(config, dataset, axis_name=None) -> Trainer
  hparams(config) -> {name: float}         the losses' numbers, kept as arrays in state.hparams
  optimizers(config) -> {net name: optax}  one optimizer per network (inject_hyperparams)
  options(config) -> hashable              the step's structure (switches read when it is built):
                                           sweep members with equal options share one program
  CONFIG_CHECKS (optional)                 ranges of its own config values (gan_jax.config_checks)

and its networks (models.py) and pure step (step.py) beside it, with whatever its command-line
tools need (sampling, translation, generation).
"""
import dataclasses
import importlib
from typing import Any, Callable

from gan_jax.errors import UserError

NAMES = ("latent", "pix2pix", "cyclegan", "stylegan", "text2image")


@dataclasses.dataclass(frozen=True)
class Trainer:
  """What the shared loop needs from a family, for one config and data set."""
  # init(root_key) -> TrainState (jit-able; weights from key_streams.init_key(root_key)).
  init: Callable
  # step(state, batch, rng) -> (state, metrics): pure; `batch` holds `batch_rows` rows of each of
  # `fields`; metrics are scalars.
  step: Callable
  fields: tuple[str, ...]
  batch_rows: int
  # visualize(state, path, title): writes the sample grid (a PNG) of one state (not a stack).
  visualize: Callable
  # make_evaluator(workdir) -> evaluate(state, step) -> {metric: float}; None: no in-loop metrics.
  make_evaluator: Callable | None = None
  # The family's checks that would otherwise surface only after the run has written its workdir
  # (config.json, checkpoints/, metrics): the loop calls them before writing anything, so that a
  # refused run leaves nothing behind and the corrected command is not "another config".
  # check_evaluation(): what make_evaluator needs (e.g. held-out images); called when in-loop
  # evaluation will run (make_evaluator itself runs later: it may train classifiers).
  check_evaluation: Callable | None = None
  # check_batch_rows(rows): what `step` needs of the rows it sees (each device's share under
  # parallel.mode=pmap), instead of a failure when the step is first traced.
  check_batch_rows: Callable | None = None
  best_metric: str | None = None  # Lower is better; kept in best_checkpoint/ when evaluated.
  # A program that changes during training (progressive growing): the first step of every stage
  # after the first, and step_for_stage(stage) -> a step like `step`. The loop compiles one program
  # per stage and ends a call at each stage's first step, so the stage is static in each program.
  stage_starts: tuple[int, ...] = ()
  step_for_stage: Callable | None = None
  info: Any = None                # Anything the family's tools want to keep (models, ...).


def get(name):
  """The family module `gan_jax.families.<name>.family`."""
  if name not in NAMES:
    raise UserError(f"family={name!r} is unknown; allowed: {', '.join(NAMES)}")
  try:
    return importlib.import_module(f"gan_jax.families.{name}.family")
  except ModuleNotFoundError as e:
    if e.name and e.name.startswith(f"gan_jax.families.{name}"):
      raise UserError(f"family={name!r} is not built yet") from e
    raise
