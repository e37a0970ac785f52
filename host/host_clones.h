/* CLD_HOST_CLONES: compile a host loop for x86-64-v2, -v3 and -v4 as well
 * as baseline x86-64, and let the dynamic loader pick the best one the CPU
 * supports (GCC's target_clones; every clone is the same C code). For
 * loops that gather every third byte of RGB, which takes a byte shuffle
 * (SSSE3) baseline x86-64 lacks. Empty elsewhere, and under
 * ThreadSanitizer: the loader runs the clones' resolver before its runtime
 * starts, and the instrumented resolver crashes.
 *
 * clang 14 gives the resolver of a static target_clones function external
 * linkage, so two such functions of one name in two files clash when
 * linking: name them apart. */
#ifndef CLD_HOST_CLONES_H
#define CLD_HOST_CLONES_H

#if defined(__x86_64__) && defined(__GLIBC__) && defined(__has_attribute) && \
    !defined(__SANITIZE_THREAD__)
#if __has_attribute(target_clones)
#define CLD_HOST_CLONES \
    __attribute__((target_clones("default", "arch=x86-64-v2", \
                                 "arch=x86-64-v3", "arch=x86-64-v4")))
#endif
#endif
#ifndef CLD_HOST_CLONES
#define CLD_HOST_CLONES
#endif

#endif
