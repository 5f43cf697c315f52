"""Compiled (numba) kernels of the scheduling engine and of the hardware's floating point.

- :mod:`dysta_sw.formulas` (beside the readable engine, which must not depend on this package):
  every policy's score formula and the sparse-latency predictor, written once in plain numpy.
  The readable engine (:mod:`dysta_sw.engine`, :mod:`dysta_sw.policies`) calls them on arrays;
  :mod:`.kernels` compiles the same functions for the compiled engine, which calls them on scalars.
- :mod:`.engine`: one run's event loop compiled to machine code (``simulate``, same interface
  and results as :func:`dysta_sw.engine.simulate`, decision for decision).
- :mod:`.fp`: the floating-point operations of :mod:`dysta_sw.fp` as compiled integer code on
  scalar bit patterns, bit-exact with that golden model, in every format and mode.
- :mod:`.hw`: the ``dysta-hw-*`` policies' gamma (mode A) and score (mode B) on those operations.

Importing this package does not import numba; its modules do. Compiled code is cached on disk,
see :func:`dysta_sw.compiled._jit.cache_dir` (``$DYSTA_CACHE_DIR/numba``, by default
``~/.cache/dysta/numba``).
"""
