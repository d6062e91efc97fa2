"""The notebooks' experiments: small, seeded runs on the embedded sample that show one effect
each (with and without BatchNorm, SiLU against ReLU, a learning rate too high and too low, ...)
in seconds.

Each function computes and returns its numbers (a dataclass or a dict of curves); the notebook
plots them with `plots` and asserts the effect, so an experiment that stops showing what the
prose says fails nbval. They are built from the lab's own layers (in the student release:
the student's), so an exercise not written yet stops an experiment with the usual notice.
One module per lesson.
"""
