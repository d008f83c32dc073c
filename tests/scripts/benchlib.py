"""What the bench_*.py scripts share: timing a call the same way on every side."""
import statistics
import time


def median_time(fn, runs, warm_up=True):
    """Median wall time of `runs` calls of `fn`, after one untimed call unless `warm_up` is
    False (the first call pays for caches and lazy set-up on both sides)."""
    if warm_up:
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)
