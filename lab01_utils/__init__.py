"""Lab01: a pre-activation ResNet on Fashion-MNIST, by hand in NumPy (Task 1) and in PyTorch
(Task 2).

Modules (import what you need; nothing heavy is imported here):

- `lab01_utils.nn`: Task 1's layers (`Conv2d`, `BatchNorm2d`, `SiLU`, `Linear`, ...)
- `lab01_utils.optim`: `SGD`, `MultiStepLR`
- `lab01_utils.models`: `build_numpy_model`, `build_torch_model`
- `lab01_utils.data`, `lab01_utils.augment`: Fashion-MNIST, mini-batches, augmentation
- `lab01_utils.train`, `lab01_utils.compare`: the training loop and the comparison
"""

__version__ = "0.1.0"
