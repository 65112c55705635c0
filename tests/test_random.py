"""The `random` module in compiled code on the interpreter's own state (issue 12, item 11):
`random.random`, `uniform`, `randint`, `randrange`, `getrandbits` drawn natively from
`random._inst`'s Mersenne Twister, so seeding in Python and drawing in compiled code (and the
other way round) continue one stream, CPython's (Numba's `random` is seeded apart and gives
other numbers); `random.seed` and the other distributions go through Python, on the same state.
"""

import pytest

from test_ufuncs import compare

pytestmark = pytest.mark.usefixtures("real_native")


def test_one_stream_across_compiled_and_interpreted_code(heron_python, tmp_path):
    compare(heron_python, tmp_path, """
    import random
    from random import randint

    # heron: jit
    def pi(n):
        inside = 0
        for i in range(n):
            x = random.random()
            y = random.random()
            if x * x + y * y < 1.0:
                inside += 1
        return 4.0 * inside / n

    # heron: jit
    def ints(n):
        s = 0
        for i in range(n):
            s += randint(1, 6) + random.randrange(10) + random.randrange(-5, 5) + random.getrandbits(40)
        return s, random.uniform(2.0, 3.0), random.getrandbits(0)

    # heron: jit
    def reseeded(k):
        random.seed(k)
        return random.random() + random.gauss(0.0, 1.0)

    random.seed(1234)
    print(random.random())
    print(pi(20000))
    print(random.random())
    print(ints(1000))
    print(random.random(), random.getrandbits(64), random.gauss(0.0, 1.0))
    print(reseeded(7), random.random())
    # An empty range: Python's ValueError, from the same state.
    # heron: jit
    def bad(a, b):
        return random.randint(a, b)
    try:
        bad(3, 1)
    except ValueError as e:
        print("ValueError", e)
    print(random.random())
    """, native=["pi", "ints", "reseeded"])
