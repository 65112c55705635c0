"""Monte Carlo pi with the random module (the example on numba.pydata.org's front page)."""
SOURCE = {
    "repo": "numba/numba.github.com", "commit": "92734e9e7ae2f2f19f86f0a72b9244af7b708c27",
    "path": "index.html",
    "license": "no license file in the site's repository (Copyright 2018 Anaconda); Numba itself is BSD-2-Clause",
    "snippet": ["from numba import njit\nimport random", "</code></pre>"],
    "jit": ["monte_carlo_pi"],
    "imports": ["import random"],
    "notes": "The code is the first code block of the page. The driver seeds the random module.",
}

import random


def make_inputs():
    random.seed(0)
    return (20000,)


def run(nsamples):
    return monte_carlo_pi(nsamples)
