"""Lab01: a pre-activation ResNet on Fashion-MNIST, by hand in NumPy (Task 1) and in PyTorch
(Task 2).

Modules (import what you need; nothing heavy is imported here):

- `lab01_utils.nn`: Task 1's layers (`Conv2d`, `BatchNorm2d`, `SiLU`, `Linear`, ...)
- `lab01_utils.optim`, `lab01_utils.augment`: `SGD`, `MultiStepLR`; shifts and flips
- `lab01_utils.models`: `build_numpy_model`, `build_torch_model`
- `lab01_utils.config`: the recipe (`TrainConfig`) and every default
- `lab01_utils.data`, `.formats`, `.loader`, `.images`: Fashion-MNIST, its files, mini-batches,
  image shapes
- `lab01_utils.engines`, `.epoch`, `.train`, `.runs`: the two engines, one epoch, the training
  loop (`python -m lab01_utils.train`), a run's files
- `lab01_utils.checks`: the exercises' self-checks
- `lab01_utils.metrics`, `.plots`, `.widgets`, `.compare`: what the notebooks show
"""

__version__ = "0.1.0"
