#!/usr/bin/python3
"""Reference values for isotope's exact statistics (tests/vectors/stats_vectors.json).

Run with an interpreter that has mpmath (Debian: /usr/bin/python3, package
python3-mpmath):

    /usr/bin/python3 tests/vectors/gen_stats_vectors.py > tests/vectors/stats_vectors.json

Every reference is computed independently of the C++ code, by a different
method, with at least 50 significant digits (mpmath, mp.dps = 50) or exactly:

* Binomial tails P(X >= k), X ~ Bin(n, p). The success probability is the
  exact value of the IEEE double the C++ code receives (0.1 means
  0.1000000000000000055511151231257827...), held as an exact fraction.
  - n <= 30: the tail is summed exactly in rational arithmetic.
  - larger n: the first term's logarithm is computed with mpmath's loggamma
    (working precision raised by the number of digits of n, so that 50 digits
    survive the cancellation), and the tail relative to that term is summed in
    integer fixed-point arithmetic with 400 fraction bits (exact integer
    ratios; each step truncates by less than 2^-400 of the first term) until
    the remainder bound t r / (1 - r) falls below 1e-60 of the sum. Tails containing the mean are computed as 1 - (the opposite tail) in
    mpmath. These agree with the exact rational sums for n <= 30 and with
    mpmath.betainc for moderate n (checked when this script runs).
* Chi-square tails with 2m degrees of freedom: exp(-x/2) sum_{j<m} (x/2)^j / j!
  summed term by term in mpmath (checked against mpmath.gammainc).
* Fisher's method: x = -2 ln(10) sum log10 p_i from the exact double inputs,
  then the chi-square tail above.
* Kolmogorov–Smirnov, n <= 100: 1 - the exact P(D_n < d) by recursive integration
  of the joint density of the order statistics over the band
  i/n - d < U_(i) < (i-1)/n + d, in exact rational arithmetic with piecewise
  polynomials (a method independent of the Marsaglia–Tsang–Wang matrix power
  used by the library). n > 100: the library uses Kolmogorov's limiting
  distribution at (sqrt(n) + 0.12 + 0.11/sqrt(n)) D; the reference evaluates
  that same formula in mpmath, and for information also the exact value.

Log values are written as decimal strings with 25 significant digits.
"""

import json
import math
import sys
from fractions import Fraction

import mpmath
from mpmath import mp, mpf

mp.dps = 50
DIGITS = 25
GAMMAS = [0.25, 0.5, 0.1, 0.9, 0.2500152587890625]


def s25(x):
    """An mpf as a decimal string with 25 significant digits."""
    if x == 0:
        return "0"
    return mpmath.nstr(x, DIGITS, min_fixed=1, max_fixed=0)


def frac_to_mpf(fr):
    return mpf(fr.numerator) / mpf(fr.denominator)


# --------------------------------------------------------------------------
# Binomial


def binom_exact_log10(k, n, p):
    """log10 P(X >= k) by an exact rational sum (small n)."""
    q = 1 - p
    s = sum(Fraction(math.comb(n, j)) * p ** j * q ** (n - j) for j in range(k, n + 1))
    if s == 1:
        return mpf(0)
    with mp.workdps(80):
        return +(mpmath.log10(frac_to_mpf(s)))


def ln_term(n, j, p_mp, q_mp):
    """ln C(n, j) p^j q^(n-j) at high precision."""
    extra = len(str(n)) + 10
    with mp.workdps(mp.dps + extra):
        v = mpmath.loggamma(n + 1) - mpmath.loggamma(j + 1) - mpmath.loggamma(n - j + 1)
        if j:
            v += j * mpmath.log(p_mp)
        if n - j:
            v += (n - j) * mpmath.log(q_mp)
        return v


FIX = 400  # fixed-point fraction bits


def fixed_sum(first, last, step, num, den):
    """sum_{t>=0} prod ratios, relative to the first term, as an exact-ish integer
    fixed-point value (scale 2^FIX). The ratio from index j to j+step is
    num(j) / den(j); ratios must be < 1 and decreasing."""
    one = 1 << FIX
    t = one
    s = one
    j = first
    while j != last:
        a = num(j)
        b = den(j)
        t = t * a // b
        j += step
        s += t
        if t == 0:
            break
        # remainder <= t r / (1 - r) with r = a / b; stop when below 1e-60 of s
        if b > a and t * a * 10 ** 60 < s * (b - a):
            break
    return mpf(s) / mpf(one)


def binom_ref_log10(k, n, p_fr):
    """log10 P(X >= k) for X ~ Bin(n, p), p an exact Fraction."""
    if k == 0:
        return mpf(0)
    P, D = p_fr.numerator, p_fr.denominator
    Q = D - P
    p_mp = frac_to_mpf(p_fr)
    q_mp = frac_to_mpf(1 - p_fr)
    if k * D > n * P:
        # upper tail summed upwards from k: ratio (n-j) P / ((j+1) Q)
        s = fixed_sum(k, n, +1, lambda j: (n - j) * P, lambda j: (j + 1) * Q)
        with mp.workdps(mp.dps + 10):
            ln_p = ln_term(n, k, p_mp, q_mp) + mpmath.log(s)
            return ln_p / mpmath.log(10)
    # lower tail P(X <= k-1) summed downwards: ratio j Q / ((n-j+1) P)
    s = fixed_sum(k - 1, 0, -1, lambda j: j * Q, lambda j: (n - j + 1) * P)
    with mp.workdps(mp.dps + 10):
        ln_l = ln_term(n, k - 1, p_mp, q_mp) + mpmath.log(s)
        return mpmath.log1p(-mpmath.exp(ln_l)) / mpmath.log(10)


def binomial_vectors():
    out = []
    # small n, all k, exact rational sums (also cross-checks the fixed-point path)
    for g in GAMMAS:
        p = Fraction(g)
        for n in range(1, 31):
            for k in range(0, n + 1):
                exact = binom_exact_log10(k, n, p)
                ref = binom_ref_log10(k, n, p)
                if exact != 0 and abs(ref - exact) > abs(exact) * mpf(10) ** -40:
                    raise SystemExit("reference mismatch n=%d k=%d g=%r" % (n, k, g))
                out.append({"n": n, "k": k, "gamma": g, "log10_p": s25(exact)})
    # larger n: around the mean, at +-z sigma, extremes
    zs = [-40, -10, -5, -3, -1, -0.5, 0, 0.5, 1, 3, 5, 10, 40]
    for n in [100, 1000, 10 ** 4, 10 ** 5, 10 ** 6, 10 ** 7]:
        for g in GAMMAS:
            p = Fraction(g)
            mean = n * p
            sd = math.sqrt(float(mean * (1 - p)))
            ks = {1, 2, n - 1, n, math.floor(mean) - 1, math.floor(mean),
                  math.floor(mean) + 1, math.floor(mean) + 2}
            for z in zs:
                ks.add(int(math.floor(float(mean) + z * sd + 0.5)))
            for k in sorted(ks):
                if 0 <= k <= n:
                    out.append({"n": n, "k": k, "gamma": g,
                                "log10_p": s25(binom_ref_log10(k, n, p))})
    # very small values (far below 1e-300 and 1e-10000)
    extremes = [(10 ** 5, 6 * 10 ** 4, 0.25), (10 ** 4, 5000, 0.25), (10 ** 4, 4000, 0.25),
                (10 ** 6, 5 * 10 ** 5, 0.25), (10 ** 6, 10 ** 6, 0.1),
                (10 ** 6, 999999, 0.5), (10 ** 7, 3 * 10 ** 6, 0.25), (10 ** 7, 5 * 10 ** 6, 0.25)]
    for n, k, g in extremes:
        out.append({"n": n, "k": k, "gamma": g,
                    "log10_p": s25(binom_ref_log10(k, n, Fraction(g)))})
    # huge n (exercises the Euler–Maclaurin evaluation in the library)
    huge = [(10 ** 8, [0.25, 0.5, 0.1], [-5, -1, 0, 0.3, 1, 3, 5, 10, 40, 100]),
            (10 ** 9, [0.25, 0.9], [-3, 0, 1, 3, 10, 40]),
            (10 ** 10, [0.25], [-3, 0.2, 2, 6, 40, 300]),
            (2 ** 40, [0.25], [-2, 0.1, 4, 60])]
    for n, gs, zz in huge:
        for g in gs:
            p = Fraction(g)
            mean = n * p
            sd = math.sqrt(float(mean * (1 - p)))
            for z in zz:
                k = int(math.floor(float(mean) + z * sd + 0.5))
                out.append({"n": n, "k": k, "gamma": g,
                            "log10_p": s25(binom_ref_log10(k, n, p))})
        out.append({"n": n, "k": n, "gamma": 0.25,
                    "log10_p": s25(binom_ref_log10(n, n, Fraction(0.25)))})
    # cross-check the reference against mpmath.betainc where that converges
    for n, k, g in [(200, 70, 0.25), (500, 100, 0.1), (1000, 480, 0.5), (60, 50, 0.9)]:
        p = Fraction(g)
        bi = mpmath.betainc(k, n - k + 1, 0, frac_to_mpf(p), regularized=True)
        ref = binom_ref_log10(k, n, p)
        if abs(mpmath.log10(bi) - ref) > abs(ref) * mpf(10) ** -35 + mpf(10) ** -45:
            raise SystemExit("betainc cross-check failed n=%d k=%d" % (n, k))
    return out


# --------------------------------------------------------------------------
# Chi-square with even degrees of freedom and Fisher's method


def chi2_even_ref_log10(x, m):
    """log10 P(chi2_{2m} >= x) = log10 P(N <= m - 1), N ~ Poisson(y), y = x/2:
    e^{-y} sum_{j<m} y^j / j!. When m - 1 >= y (p-value above about one half),
    computed as log1p(-P(N >= m)) so that values next to 1 keep their digits."""
    if x <= 0:
        return mpf(0)
    with mp.workdps(mp.dps + 20):
        x = mpf(x)
        y = x / 2
        if y > m - 1:
            # terms j = m-1, m-2, ..., 0, decreasing
            j = m - 1
            lt = j * mpmath.log(y) - mpmath.loggamma(j + 1) - y
            s = mpf(1)
            t = mpf(1)
            while j > 0:
                t = t * j / y
                j -= 1
                s += t
                if t < s * mpf(10) ** -70:
                    break
            return (lt + mpmath.log(s)) / mpmath.log(10)
        # P(N >= m): terms j = m, m+1, ..., decreasing since m > y
        j = m
        lt = j * mpmath.log(y) - mpmath.loggamma(j + 1) - y
        s = mpf(1)
        t = mpf(1)
        while True:
            r = y / (j + 1)
            t = t * r
            j += 1
            s += t
            if t * r / (1 - r) < s * mpf(10) ** -70:
                break
        u = mpmath.exp(lt) * s
        return mpmath.log1p(-u) / mpmath.log(10)


def chi2_vectors():
    out = []
    cases = [(0.5, 1), (1.0, 1), (2.0, 1), (10.0, 1), (1e-10, 1), (1e-10, 3), (3.0, 2),
             (7.5, 3), (20.0, 5), (100.0, 10), (1000.0, 10), (2000.0, 1000), (1800.0, 1000),
             (2200.0, 1000), (1e5, 3), (1e6, 100), (4.6e5, 2), (2e6, 10 ** 6), (1.9e6, 10 ** 6),
             (2.1e6, 10 ** 6), (1.0, 50), (50.0, 50), (100.0, 50), (150.0, 50),
             (2e8, 10 ** 8), (2.0003e8, 10 ** 8), (1.9997e8, 10 ** 8), (1e300, 7)]
    for x, m in cases:
        ref = chi2_even_ref_log10(x, m)
        if m <= 2000 and x < 1e7:
            chk = mpmath.gammainc(m, mpf(x) / 2, mpmath.inf, regularized=True)
            if abs(mpmath.log10(chk) - ref) > abs(ref) * mpf(10) ** -35 + mpf(10) ** -45:
                raise SystemExit("gammainc cross-check failed x=%r m=%d" % (x, m))
        out.append({"x": x, "m": m, "log10_p": s25(ref)})
    return out


def fisher_ref_log10(log10_ps):
    with mp.workdps(mp.dps + 20):
        s = mpf(0)
        for v in log10_ps:
            s += mpf(min(v, 0.0))
        x = -2 * mpmath.log(10) * s
        return chi2_even_ref_log10(x, len(log10_ps))


def lcg_stream(seed):
    state = seed
    while True:
        state = (6364136223846793005 * state + 1442695040888963407) % (1 << 64)
        yield ((state >> 11) + 0.5) / float(1 << 53)


def fisher_vectors():
    out = []
    gen = lcg_stream(12345)
    cases = [
        [-0.5],
        [-1.0, -2.0],
        [-0.30103, -0.30103, -0.30103],
        [0.0, 0.0, 0.0, 0.0],
        [-1e5, -0.3],
        [-1e5, -1e5, -1e5, -2.5],
        [-350.0, -2.0, -0.01],
        [-1e-20, -3.0],
        [-12.0] * 20,
        [math.log10(next(gen)) for _ in range(200)],
        [math.log10(next(gen)) for _ in range(1000)],
        [-0.4342944819032518] * 500,
    ]
    for c in cases:
        out.append({"log10_ps": c, "log10_p": s25(fisher_ref_log10(c))})
    return out


# --------------------------------------------------------------------------
# Kolmogorov–Smirnov


def ks_statistic_exact(values):
    u = sorted(Fraction(v) for v in values)
    n = len(u)
    d = Fraction(0)
    for i, v in enumerate(u):
        d = max(d, Fraction(i + 1, n) - v, v - Fraction(i, n))
    return d


def poly_integrate(c):
    """Antiderivative (constant 0) of a polynomial given by coefficients."""
    return [Fraction(0)] + [a / (i + 1) for i, a in enumerate(c)]


def poly_eval(c, x):
    r = Fraction(0)
    for a in reversed(c):
        r = r * x + a
    return r


def ks_exact_cdf(n, d):
    """P(D_n < d) exactly: n! times the volume of
    {0 < u_1 < ... < u_n < 1, i/n - d < u_i < (i-1)/n + d}, by integrating
    the order statistics one at a time (piecewise polynomials, exact)."""
    if d >= 1:
        return Fraction(1)
    if d <= Fraction(1, 2 * n):
        return Fraction(0)
    lo = [max(Fraction(0), Fraction(i, n) - d) for i in range(1, n + 1)]
    hi = [min(Fraction(1), Fraction(i - 1, n) + d) for i in range(1, n + 1)]
    bps = sorted(set([Fraction(0), Fraction(1)] + lo + hi))
    # F on each interval [bps[s], bps[s+1]] is a polynomial in the local
    # variable (u - bps[s]); F_0 = 1.
    F = [[Fraction(1)] for _ in range(len(bps) - 1)]
    for i in range(n):
        G = []
        acc = Fraction(0)  # value of the new function at the left end
        for s in range(len(bps) - 1):
            a, b = bps[s], bps[s + 1]
            inside = lo[i] <= a and b <= hi[i]
            if inside:
                integ = poly_integrate(F[s])
                integ[0] += acc
                G.append(integ)
                acc = poly_eval(integ, b - a)
            else:
                G.append([acc])
        F = G
    total = poly_eval(F[-1], bps[-1] - bps[-2])
    return total * math.factorial(n)


def kolmogorov_sf_mp(lam):
    """P(K > lam) for Kolmogorov's limiting distribution."""
    lam = mpf(lam)
    if lam <= 0:
        return mpf(1)
    if lam >= 1:
        return 2 * mpmath.nsum(lambda j: (-1) ** (int(j) - 1) * mpmath.exp(-2 * j * j * lam * lam),
                               [1, mpmath.inf])
    theta = mpmath.nsum(lambda j: mpmath.exp(-(2 * j - 1) ** 2 * mpmath.pi ** 2 / (8 * lam * lam)),
                        [1, mpmath.inf])
    return 1 - mpmath.sqrt(2 * mpmath.pi) / lam * theta


def ks_vectors():
    out = []
    gen = lcg_stream(20240601)
    samples = []
    samples.append([0.3])
    samples.append([0.9])
    samples.append([0.2, 0.7])
    for n in [3, 5, 10, 20, 50, 100]:
        samples.append([next(gen) for _ in range(n)])
    # non-uniform samples: squares of uniforms (too many small values)
    for n in [10, 40, 100]:
        samples.append([next(gen) ** 2 for _ in range(n)])
    # D >= 1/2 (the library's one-sided formula) and D in (0.3, 0.5) with tiny p
    samples.append([0.3] * 10)
    samples.append([next(gen) ** 6 for _ in range(100)])
    samples.append([next(gen) ** 3 for _ in range(60)])
    # perfectly spaced sample (D = 1/(2n)) and a degenerate one
    samples.append([(i + 0.5) / 8 for i in range(8)])
    samples.append([0.01 * (i + 1) for i in range(30)])
    for n in [150, 400, 1000]:
        samples.append([next(gen) for _ in range(n)])
    samples.append([next(gen) ** 1.3 for _ in range(300)])
    for vals in samples:
        n = len(vals)
        d = ks_statistic_exact(vals)
        entry = {"values": vals, "D": s25(frac_to_mpf(d))}
        if n <= 150:
            exact_p = 1 - ks_exact_cdf(n, d)
            exact_mp = frac_to_mpf(exact_p)
        if n <= 100:
            entry["method"] = "exact"
            entry["p_value"] = s25(exact_mp)
        else:
            sn = mpmath.sqrt(n)
            lam = (sn + mpf("0.12") + mpf("0.11") / sn) * frac_to_mpf(d)
            entry["method"] = "asymptotic"
            entry["p_value"] = s25(kolmogorov_sf_mp(lam))
            if n <= 150:
                entry["exact_p_value_for_information"] = s25(exact_mp)
        out.append(entry)
    return out


def main():
    doc = {
        "description": "Reference values for lib/stats (see tests/vectors/gen_stats_vectors.py "
                       "for how each was computed). log10_p are decimal strings with 25 "
                       "significant digits (as are D and p_value of the KS vectors); gamma, x, "
                       "log10_ps and values are exact IEEE doubles.",
        "binomial": binomial_vectors(),
        "chi2_even": chi2_vectors(),
        "fisher": fisher_vectors(),
        "ks": ks_vectors(),
    }
    # one vector per line: compact, and diffs stay readable
    w = sys.stdout.write
    w("{\n")
    keys = list(doc)
    for i, key in enumerate(keys):
        w(" %s: " % json.dumps(key))
        val = doc[key]
        if isinstance(val, list):
            w("[\n")
            for j, e in enumerate(val):
                w("  " + json.dumps(e) + (",\n" if j + 1 < len(val) else "\n"))
            w(" ]")
        else:
            w(json.dumps(val))
        w(",\n" if i + 1 < len(keys) else "\n")
    w("}\n")


if __name__ == "__main__":
    main()
