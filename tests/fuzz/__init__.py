"""Differential fuzzing of Heron against CPython.

``gen`` builds random modules of functions in Heron's compiled subset (plus ``make_args``, the
calls to make; ``gen_arrays`` its whole-array NumPy), ``harness`` runs one module under CPython
and under Heron and compares everything (results, exceptions, output, warnings, arrays),
``reduce`` shrinks a mismatching module to a minimal reproducer, and ``run`` is the
long-running command line::

    python -m tests.fuzz.run --count 100000 --seed 1 --out fuzz-out

(run from the repository root; ``--heron-path DIR`` puts a private copy of the ``heron``
package first on ``sys.path`` of the workers).
"""
