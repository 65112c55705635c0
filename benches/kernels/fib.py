"""Example program fib.py: recursive Fibonacci (calls of a compiled function from itself)."""


# heron: jit
def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def setup(quick=False):
    return (24 if quick else 30,)


def run(args):
    return fib(*args)


if __name__ == "__main__":
    import _bench
    _bench.main(setup, run)
