/* xoshiro256** (Blackman & Vigna), seeded through splitmix64.  Chosen for a
 * tiny state that lives inside handles, good statistical quality and
 * identical output on every platform, so a seed means the same weights
 * everywhere.  Implemented here from the published algorithm description. */
#include "core.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void cnn_rng_seed(cnn_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&x);
}

void cnn_rng_seed_stream(cnn_rng *rng, uint64_t seed, uint64_t stream)
{
    /* Mix the stream id through splitmix64 first so nearby ids give
     * unrelated seeds. */
    uint64_t x = stream ^ 0x5bd1e9955bd1e995ull;
    cnn_rng_seed(rng, seed ^ splitmix64(&x));
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t cnn_rng_next(cnn_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float cnn_rng_uniform(cnn_rng *rng)
{
    return (float)(cnn_rng_next(rng) >> 40) * (1.0f / 16777216.0f);
}

double cnn_rng_uniform_double(cnn_rng *rng)
{
    return (double)(cnn_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

double cnn_rng_normal(cnn_rng *rng)
{
    /* Box-Muller; u1 in (0, 1] so log never sees 0. */
    double u1 = 1.0 - cnn_rng_uniform_double(rng);
    double u2 = cnn_rng_uniform_double(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void cnn_rng_normal_fill(cnn_rng *rng, float *dst, size_t n, double sigma)
{
    size_t i = 0;
    for (; i + 1 < n; i += 2) {
        double u1 = 1.0 - cnn_rng_uniform_double(rng);
        double u2 = cnn_rng_uniform_double(rng);
        double r = sqrt(-2.0 * log(u1)) * sigma;
        dst[i] = (float)(r * cos(6.283185307179586 * u2));
        dst[i + 1] = (float)(r * sin(6.283185307179586 * u2));
    }
    if (i < n)
        dst[i] = (float)(cnn_rng_normal(rng) * sigma);
}

void cnn_rng_uniform_fill(cnn_rng *rng, float *dst, size_t n, double limit)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (float)((2.0 * cnn_rng_uniform_double(rng) - 1.0) * limit);
}

uint64_t cnn_rng_below(cnn_rng *rng, uint64_t bound)
{
    /* Rejection sampling: discard the top partial range so every value in
     * [0, bound) is equally likely. */
    uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        uint64_t r = cnn_rng_next(rng);
        if (r >= threshold)
            return r % bound;
    }
}

void cnn_rng_shuffle_i64(cnn_rng *rng, int64_t *idx, int64_t n)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)cnn_rng_below(rng, (uint64_t)i + 1);
        int64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}
