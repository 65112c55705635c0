"""Particle interactions: softened gravitational forces between all pairs (O(n^2) loops over
1-D arrays of positions and masses), accumulated into 1-D force arrays."""
import math

import numpy as np


# heron: jit
def forces(x, y, z, m, fx, fy, fz, soft):
    n = len(x)
    for i in range(n):
        ax = 0.0
        ay = 0.0
        az = 0.0
        xi = x[i]
        yi = y[i]
        zi = z[i]
        for j in range(n):
            if j == i:
                continue
            dx = x[j] - xi
            dy = y[j] - yi
            dz = z[j] - zi
            r2 = dx * dx + dy * dy + dz * dz + soft
            inv = m[j] / (r2 * math.sqrt(r2))
            ax += dx * inv
            ay += dy * inv
            az += dz * inv
        fx[i] = m[i] * ax
        fy[i] = m[i] * ay
        fz[i] = m[i] * az


# heron: jit
def potential(x, y, z, m, soft):
    n = len(x)
    energy = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            dx = x[j] - x[i]
            dy = y[j] - y[i]
            dz = z[j] - z[i]
            energy -= m[i] * m[j] / math.sqrt(dx * dx + dy * dy + dz * dz + soft)
    return energy


def setup(quick=False):
    n = 120 if quick else 500
    rng = np.random.default_rng(7)
    x, y, z = rng.standard_normal((3, n))
    m = rng.uniform(0.5, 1.5, n)
    return x, y, z, m, 1e-3


def run(args):
    x, y, z, m, soft = args
    fx = np.zeros_like(x)
    fy = np.zeros_like(x)
    fz = np.zeros_like(x)
    forces(x, y, z, m, fx, fy, fz, soft)
    return potential(x, y, z, m, soft), fx, fy, fz


if __name__ == "__main__":
    import _bench
    _bench.main(setup, run)
