/*
 * What the sanitizer harnesses tests/c/test_*.c share: CHECK, a seeded
 * generator of our own (so runs repeat) and the closing summary line.
 * A harness that wants another seed defines HARNESS_SEED before including
 * this file. Header-only: each harness is its own program.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int failures;
static int checks;

/* Count a check; a failed one says where and why, and more than 20 failures end the run. */
#define CHECK(cond, ...) \
    do { \
        checks++; \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__); \
            fprintf(stderr, "\n"); \
            if (++failures > 20) exit(1); \
        } \
    } while (0)

#ifndef HARNESS_SEED
#define HARNESS_SEED 0x9E3779B97F4A7C15ULL
#endif

static uint64_t rng_state = HARNESS_SEED;

/* xorshift64*, the high 32 bits */
static inline uint32_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t) ((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

/* Uniform in lo..hi, both included. */
static inline int rnd_range(int lo, int hi)
{
    return lo + (int) (rnd() % (uint32_t) (hi - lo + 1));
}

/* The summary line ("name: N checks, M failures"); main's exit status. */
static inline int harness_summary(const char *name)
{
    printf("%s: %d checks, %d failures\n", name, checks, failures);
    return failures ? 1 : 0;
}

#endif
