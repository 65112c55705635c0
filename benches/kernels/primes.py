"""Example program primes.py: trial division of numbers that need more than 32 bits.

The inputs are primes, so the ``print`` of a divisor never runs (it would only add output)."""
import math


# heron: jit
def is_prime(n):
    if n == 2:
        return True
    if n % 2 == 0 or n <= 1:
        return False
    search_up_to = int(math.sqrt(n)) + 1
    for divisor in range(3, search_up_to, 2):
        if n % divisor == 0:
            print("{}/{}={}".format(n, divisor, n // divisor))
            return False
    return True


def setup(quick=False):
    if quick:
        return (10_000_000_019, 100_000_000_003)
    return (1_000_000_000_039, 10_000_000_000_037)


def run(args):
    return tuple(is_prime(n) for n in args)


if __name__ == "__main__":
    import _bench
    _bench.main(setup, run)
