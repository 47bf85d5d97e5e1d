"""Progressive growing (Karras et al. 2018): the schedule of stages and fade-ins, as functions of
the step.

Stage k trains at resolution 4 * 2**k. Stage 0 lasts `stable_images`; every later stage first fades
its new blocks in over `fade_images` (alpha rises linearly from 0 to 1) and then trains them for
`stable_images`; the last stage trains until the end of the run. Images are counted in training
images (steps * batch size), as ProGAN's schedule is.

The stage is a Python int inside a compiled program (the loop compiles one program per stage, see
`families.Trainer.stage_starts`); alpha is computed from `state.step` inside it, so resuming from a
checkpoint taken inside a fade-in continues the same alpha. Networks take `stage` and `alpha` as
call arguments and keep every stage's parameters from the start (`init_all_stages`), so the state's
structure never changes.
"""
import dataclasses

from flax import traverse_util
import flax.core
import jax.numpy as jnp

from gan_jax import config_checks
from gan_jax import resample
from gan_jax.errors import UserError


# The schedule's config fields (`config.progressive`), as gan_jax.config_checks rules; the families
# that grow progressively add them to their CONFIG_CHECKS.
CONFIG_CHECKS = (
    ("progressive.fade_images", config_checks.count(0, "0 = no fade-in")),
    ("progressive.stable_images", config_checks.count(1)),
)


@dataclasses.dataclass(frozen=True)
class Schedule:
  starts: tuple[int, ...]   # The first step of each stage (starts[0] = 0).
  fade_steps: int           # Steps over which a new stage's alpha rises from 0 to 1.

  @property
  def num_stages(self):
    return len(self.starts)

  def stage_at(self, step):
    """The stage (a Python int) that trains at `step`."""
    return max(k for k, start in enumerate(self.starts) if start <= int(step))

  def alpha(self, stage, step):
    """The fade-in of `stage`'s new blocks at `step` (an array when `step` is traced)."""
    if stage == 0 or self.fade_steps == 0:
      return jnp.ones((), jnp.float32)
    done = (jnp.asarray(step, jnp.float32) - self.starts[stage]) / self.fade_steps
    return jnp.clip(done, 0.0, 1.0)


def make_schedule(num_stages, batch_size, fade_images, stable_images, num_train_steps):
  """The stage starts (in steps) for `num_stages` resolutions; the run must reach the end of the
  last fade-in."""
  if fade_images < 0 or stable_images <= 0:
    raise UserError(f"progressive.fade_images={fade_images} must be >= 0 and "
                    f"progressive.stable_images={stable_images} > 0")
  fade_steps = -(-fade_images // batch_size)
  stable_steps = -(-stable_images // batch_size)
  starts = tuple(k * stable_steps + max(k - 1, 0) * fade_steps for k in range(num_stages))
  needed = starts[-1] + (fade_steps if num_stages > 1 else 0)
  if needed > num_train_steps:
    raise UserError(
        f"the progressive schedule (fade_images={fade_images}, stable_images={stable_images}, "
        f"batch_size={batch_size}, {num_stages} resolutions) needs {needed} steps to fade in the "
        f"last resolution; num_train_steps={num_train_steps}: lower the images per stage or raise "
        "num_train_steps")
  return Schedule(starts=starts, fade_steps=fade_steps)


def resolution(stage):
  return 4 * 2**stage


def init_all_stages(module, rngs, *args, num_stages, **kwargs):
  """`module.init` with the parameters of every stage: the union of the variables of an init at
  each stage in its fade-in (alpha = 0.5 reaches the new block and the smaller network's toRGB /
  fromRGB). Flax derives each parameter's initial value from its path, so the inits agree on the
  parameters they share. The image argument of a discriminator (`args[0]` with rank 4) is
  resized to each stage's resolution."""
  flat = {}
  for stage in range(num_stages):
    is_image = lambda a: a is not None and jnp.ndim(a) == 4  # Labels may be None.
    stage_args = [resample.resize_to(a, resolution(stage)) if is_image(a) else a for a in args]
    variables = module.init(rngs, *stage_args, stage=stage, alpha=0.5, **kwargs)
    flat.update(traverse_util.flatten_dict(flax.core.unfreeze(variables)))
  return traverse_util.unflatten_dict(flat)


def real_images(x, stage, alpha, upsample):
  """Real images as D sees them at `stage`: box-downsampled to its resolution and, during the
  fade-in, blended with their half-resolution version upsampled as G's output path upsamples
  (`upsample`: nearest for ProGAN, the FIR filter for StyleGAN's skip generator), as ProGAN's
  training loop blends the reals at a fractional level of detail."""
  x = resample.resize_to(x, resolution(stage))
  if stage == 0:
    return x
  coarse = upsample(resample.avg_pool(x))
  return coarse + alpha * (x - coarse)
