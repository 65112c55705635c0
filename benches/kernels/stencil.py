"""A 2-D 5-point stencil: Jacobi sweeps over a float64 grid with explicit loops (two compiled
functions, one calling the other)."""
import numpy as np


# heron: jit
def sweep(src, dst):
    M, N = src.shape
    for i in range(1, M - 1):
        for j in range(1, N - 1):
            dst[i, j] = 0.25 * (src[i - 1, j] + src[i + 1, j] + src[i, j - 1] + src[i, j + 1])


# heron: jit
def jacobi(u, tmp, steps):
    for s in range(steps):
        if s % 2 == 0:
            sweep(u, tmp)
        else:
            sweep(tmp, u)
    residual = 0.0
    M, N = u.shape
    for i in range(M):
        for j in range(N):
            diff = u[i, j] - tmp[i, j]
            residual += diff * diff
    return residual


def setup(quick=False):
    n, steps = (60, 4) if quick else (160, 10)
    u0 = np.zeros((n, n))
    u0[0, :] = 1.0                                    # hot top edge
    u0[:, 0] = np.linspace(1.0, 0.0, n)               # a ramp on the left edge
    u0[n // 3:n // 2, n // 3:n // 2] = 0.5            # a warm block inside
    return u0, steps


def run(args):
    u0, steps = args
    u = u0.copy()                                     # every call starts from the same grid
    tmp = u0.copy()
    residual = jacobi(u, tmp, steps)
    return residual, u


if __name__ == "__main__":
    import _bench
    _bench.main(setup, run)
