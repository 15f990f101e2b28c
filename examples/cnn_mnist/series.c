/* Growable (x, y) lists.  Ranges skip NaN and infinities, which a diverged
 * run produces, so that one bad value cannot blow up a plot's axes. */
#include "series.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int series_push(series *s, double x, double y)
{
    if (s->count == s->cap) {
        if (s->cap > INT32_MAX / 2)
            return -1;
        int32_t cap = s->cap ? 2 * s->cap : 64;
        double *nx = realloc(s->x, (size_t)cap * sizeof *nx);
        if (nx == NULL)
            return -1;
        s->x = nx;
        double *ny = realloc(s->y, (size_t)cap * sizeof *ny);
        if (ny == NULL)
            return -1;
        s->y = ny;
        s->cap = cap;
    }
    s->x[s->count] = x;
    s->y[s->count] = y;
    s->count++;
    return 0;
}

static int32_t widen(const double *v, int32_t n, double *lo, double *hi)
{
    int32_t found = 0;
    for (int32_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            continue;
        *lo = v[i] < *lo ? v[i] : *lo;
        *hi = v[i] > *hi ? v[i] : *hi;
        found++;
    }
    return found;
}

int32_t series_widen_y(const series *s, double *lo, double *hi)
{
    return widen(s->y, s->count, lo, hi);
}

int32_t series_widen_x(const series *s, double *lo, double *hi)
{
    return widen(s->x, s->count, lo, hi);
}

void series_free(series *s)
{
    free(s->x);
    free(s->y);
    memset(s, 0, sizeof *s);
}
