"""GAN families: `config.family` picks one; the loop, checkpoints, sweeps and metrics are shared.

A family is a package `gan_jax.families.<name>` whose `family.py` defines

  load_data(config) -> data.Dataset        the fields its step reads (named by the family)
  build(config, dataset, axis_name=None) -> Trainer
  hparams(config) -> {name: float}         the losses' numbers, kept as arrays in state.hparams
  optimizers(config) -> {net name: optax}  one optimizer per network (inject_hyperparams)
  options(config) -> hashable              the step's structure (switches read when it is built):
                                           sweep members with equal options share one program
  TOOLS: Tools                             the command-line tools its trained runs offer
  CONFIG_CHECKS (optional)                 ranges of its own config values (gan_jax.config_checks)

and its networks (models.py) and pure step (step.py) beside it. The tools ask the records below
what a family offers (`Trainer.sampler`, `TOOLS`), never its name.
"""
import dataclasses
import importlib
from typing import Any, Callable, Mapping

from gan_jax.errors import UserError

NAMES = ("latent", "pix2pix", "cyclegan", "stylegan", "text2image")


@dataclasses.dataclass(frozen=True)
class Sampler:
  """A run's generator drawn from latent vectors, for any state of the run (training or restored):
  the family's sample grids and evaluator, gan_jax.sample, gan_jax.explore and the experiments all
  draw through it."""
  # sample(state, z, condition=None, psi=1.0) -> the generator's output for latents z (n, z_dim):
  # images NHWC on the data's scale, [-1, 1] (a linear output layer's, ProGAN's and StyleGAN's, may
  # pass it: outputs.to_uint8 clips), at full resolution (a progressively grown run's at its
  # state's stage, upsampled), or 2D points; from G's average where the run keeps one.
  # `condition`: int32 class labels (n,) where num_classes, float32 sentence embeddings
  # (n, sentence_dim) where sentence_dim, else None. `psi` < 1 truncates w towards its tracked
  # average, only where the family's TOOLS.truncation (elsewhere a ValueError).
  sample: Callable
  z_dim: int
  num_classes: int = 0   # 0: no class labels.
  sentence_dim: int = 0  # 0: not conditioned on sentences.


@dataclasses.dataclass(frozen=True)
class Translator:
  """gan_jax.translate's hooks: a user's images through a trained run's generator(s). `restored` is
  loop.restore(workdir); `images` a list of uint8 HWC arrays of any size, grey or colour; `rng` a
  key for test-time randomness (each batch its own)."""
  # check(config, direction): a direction ('a2b', 'b2a') the run cannot translate is one
  # UserError, raised before the run is restored.
  check: Callable
  # translate(restored, images, direction, rng) -> uint8 NHWC translations.
  translate: Callable
  # columns(restored, images, translations, direction, rng) -> [uint8 NHWC, ...]: the --grid's
  # columns, one row per image (e.g. what G sees | its output).
  columns: Callable


@dataclasses.dataclass(frozen=True)
class TextGenerator:
  """gan_jax.generate's hooks: images from sentences with a trained run."""
  # generate(restored, sentences, num, seed, batch_size, progress=None) -> uint8 (P, num, H, W, C):
  # `num` images for each of P sentence embeddings, the same `num` latents (from key(seed)) in every
  # row, at most `batch_size` per generator call; progress(done) after each call.
  generate: Callable
  # save_prompt_grid(path, images, prompts): one row per prompt, the prompt written beside it.
  save_prompt_grid: Callable


@dataclasses.dataclass(frozen=True)
class Tools:
  """The command-line tools a family's trained runs offer, declared on its module as TOOLS (not
  built per run) so that a tool refuses a run before restoring it (`offered`). A hook that is None
  or False is not offered."""
  # gan_jax.sample: draws from Trainer.sampler with latents and class labels.
  sample: bool = False
  # gan_jax.sample --psi < 1 and gan_jax.explore truncation: the sampler truncates w.
  truncation: bool = False
  # gan_jax.explore: latent_model(restored) -> latent_tools.LatentModel.
  latent_model: Callable | None = None
  translator: Translator | None = None          # gan_jax.translate.
  text_generator: TextGenerator | None = None   # gan_jax.generate.


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
  # The flax modules by network name, as in state.nets ('g', 'd'; CycleGAN's four): research code
  # and experiments apply them to a state's variables.
  networks: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  # Drawing from latents, where the family's generator takes them (None: it translates images).
  sampler: Sampler | None = None


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


# What each tool needs of a family (a Tools field), as its refusal names it.
TOOL_NEEDS = {
    "sample": ("gan_jax.sample", "sampling from latent vectors and class labels"),
    "latent_model": ("gan_jax.explore", "a latent space to explore"),
    "translator": ("gan_jax.translate", "translating images"),
    "text_generator": ("gan_jax.generate", "generating images from text"),
}


def offered(config, tool, workdir=None):
  """The family's TOOLS.<tool> hook for the run of `config` (in `workdir`), or one UserError naming
  what the run lacks and the tools it does offer."""
  name = config.family
  tools = get(name).TOOLS
  hook = getattr(tools, tool)
  if not hook:
    command, needs = TOOL_NEEDS[tool]
    others = [TOOL_NEEDS[t][0] for t in TOOL_NEEDS if t != tool and getattr(tools, t)]
    where = "--workdir" + (f"={workdir}" if workdir else "")
    raise UserError(f"{where} holds a {name} run, which does not offer {needs} "
                    f"({command}); its runs offer {', '.join(others) or 'no other tool'}")
  return hook
