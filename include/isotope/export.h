/*
 * isotope — symbol visibility of the shared library.
 *
 * The library is built with hidden visibility: only declarations marked
 * ISOTOPE_API (the public C and C++ API) leave libisotope.so. Building the
 * library defines ISOTOPE_BUILDING; users of the headers need nothing.
 * Usable from C and C++.
 */
#ifndef ISOTOPE_EXPORT_H
#define ISOTOPE_EXPORT_H

#if defined(_WIN32)
#  define ISOTOPE_API
#elif defined(__cplusplus) && (defined(__GNUC__) || defined(__clang__))
/* The standard attribute syntax, so that it may follow other attributes
 * (class [[nodiscard]] ISOTOPE_API Status). */
#  define ISOTOPE_API [[gnu::visibility("default")]]
#elif defined(__GNUC__) || defined(__clang__)
#  define ISOTOPE_API __attribute__((visibility("default")))
#else
#  define ISOTOPE_API
#endif

#endif /* ISOTOPE_EXPORT_H */
