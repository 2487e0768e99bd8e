#!/usr/bin/python3
"""Reference values of the Gumbel-max null: P(Gamma(n, 1) >= s), as log10,
from mpmath's regularized upper incomplete gamma function at 60 digits
(an independent route from the library's Poisson sum).

    /usr/bin/python3 tests/vectors/gen_gamma_vectors.py > tests/vectors/gamma_vectors.json
"""
import json

import mpmath

mpmath.mp.dps = 60


def ref_log10(n, s):
    q = mpmath.gammainc(n, s, mpmath.inf, regularized=True)
    return float(mpmath.log10(q))


def main():
    cases = []
    for n in [1, 2, 3, 10, 50, 300, 1000, 10000, 100000, 1000000]:
        for ratio in [0.5, 0.9, 1.0, 1.01, 1.1, 1.3, 1.5, 2.0, 3.0, 8.0]:
            s = n * ratio
            cases.append({"n": n, "s": s, "log10_p": ref_log10(n, s)})
    for n, s in [(1, 700.0), (1, 3000.0), (5, 1e4), (300, 1e4)]:
        cases.append({"n": n, "s": s, "log10_p": ref_log10(n, s)})
    json.dump({"gamma_upper_tail": cases}, __import__("sys").stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
