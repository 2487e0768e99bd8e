#!/usr/bin/python3
"""Reference values for combining audit results with Fisher's method
(tests/vectors/audit_fisher_vectors.json), computed independently of the C++
code with mpmath at 60 significant digits:

    /usr/bin/python3 tests/vectors/gen_audit_vectors.py > tests/vectors/audit_fisher_vectors.json

For inputs log10 p_1..p_n: x = -2 ln(10) sum log10 p_i, and the combined
p-value is the chi-square upper tail with 2n degrees of freedom,
mpmath.gammainc(n, x/2, regularized=True) (upper incomplete gamma), reported
as log10 with 25 significant digits.
"""
import json
import mpmath

mpmath.mp.dps = 60

CASES = [
    [-12.3, -1.2],                      # a strong closed audit and a weak open one
    [-0.1, -0.2, -0.05],                # three unremarkable audits
    [-0.30103, -0.30103],               # two p = 0.5
    [-2.0, -2.0, -2.0, -2.0],           # four p = 0.01
    [-10.5, -6.25],                     # the demo's typical closed and open results
    [-400.0, -3.0],                     # beyond double range
    [-1e-12, -0.5],                     # p close to 1
    [-1.0] * 20,                        # many moderate results
]


def combine(log10_ps):
    n = len(log10_ps)
    x = -2 * mpmath.log(10) * mpmath.fsum(mpmath.mpf(v) for v in log10_ps)
    return mpmath.log10(mpmath.gammainc(n, x / 2, mpmath.inf, regularized=True))


def main():
    out = []
    for c in CASES:
        out.append({"log10_ps": c, "log10_p": float(mpmath.nstr(combine(c), 25))})
    print(json.dumps({"description": "Fisher's method on log10 p-values; reference: mpmath gammainc",
                      "cases": out}, indent=1))


if __name__ == "__main__":
    main()
