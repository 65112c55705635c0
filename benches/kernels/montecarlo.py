"""A Monte Carlo loop: estimate pi with a linear congruential generator in integers modulo
2**31 (values stay below 2**62, so the integers never leave 64 bits)."""


# heron: jit
def lcg_next(state):
    return (1103515245 * state + 12345) % 2**31


# heron: jit
def estimate_pi(samples, seed):
    state = seed
    hits = 0
    for k in range(samples):
        state = lcg_next(state)
        x = state / 2147483648.0
        state = (1103515245 * state + 12345) % 2147483648
        y = state / 2147483648.0
        if x * x + y * y <= 1.0:
            hits += 1
    return 4.0 * hits / samples


def setup(quick=False):
    return (30_000 if quick else 400_000, 2024)


def run(args):
    return estimate_pi(*args)


if __name__ == "__main__":
    import _bench
    _bench.main(setup, run)
