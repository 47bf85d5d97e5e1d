"""Data: sources of images and labels (`sources`), and feeding named fields to a step (`feed`).

  dataset = data.load(config.dataset)          # fields 'x' and 'label'
  device_data, sample = data.feed.make_device_sampler(dataset, batch_size, seed)
"""
from gan_jax.data import feed
from gan_jax.data import sources
from gan_jax.data.sources import Dataset, DatasetInfo, load, load_image_folder, read_idx

__all__ = ["Dataset", "DatasetInfo", "feed", "load", "load_image_folder", "read_idx", "sources"]
