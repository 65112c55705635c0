"""Black-Scholes option pricing, returning new arrays (numba-examples finance/blackscholes)."""
SOURCE = {
    "repo": "numba/numba-examples", "commit": "c423f5419a459f5ab8874fda6d39bb5ea05d04b2",
    "path": "examples/finance/blackscholes/blackscholes_numba.py",
    "license": "BSD-2-Clause (Copyright (c) 2017, Numba)",
    "jit": ["cnd_numba", "black_scholes_numba"],
    "imports": ["import math", "import numpy as np"],
}

import numpy as np


def make_inputs():
    rng = np.random.RandomState(0)
    n = 2000
    stock = rng.uniform(5.0, 30.0, n)
    strike = rng.uniform(1.0, 100.0, n)
    years = rng.uniform(0.25, 10.0, n)
    return stock, strike, years, 0.02, 0.30


def run(stock, strike, years, riskfree, volatility):
    f32 = [a.astype(np.float32) for a in (stock, strike, years)]
    return (black_scholes_numba(stock, strike, years, riskfree, volatility),
            black_scholes_numba(*f32, np.float32(riskfree), np.float32(volatility)))


def edge():
    # an expiry of zero years divides by zero (NumPy warns); empty arrays
    t = np.array([0.0, 1.0, 0.0])
    s = np.array([10.0, 20.0, 30.0])
    return (black_scholes_numba(s, s[::-1], t, 0.02, 0.30),
            black_scholes_numba(np.zeros(0), np.zeros(0), np.zeros(0), 0.02, 0.30))
