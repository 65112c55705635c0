"""Call overhead: trivial functions called from an interpreted loop (not a kernel: the harness
measures it separately)."""


# heron: jit
def add1(x):
    return x + 1


# heron: jit
def first(a):
    return a[0]


def add1_py(x):
    return x + 1


def first_py(a):
    return a[0]
