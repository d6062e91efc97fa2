"""nbval runs the notebooks in kernels started from this pytest process, which inherit its
environment. One BLAS / OpenMP thread per kernel: the quick-profile notebooks do many small
GEMMs, where thread pools only add synchronisation (on 2 busy cores, 08 and 10 ran ~3x
faster with one thread). An explicit setting in the environment wins."""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
