/* A growable list of (x, y) points: what the training history is kept in
 * for --plot. */
#ifndef CNN_MNIST_SERIES_H
#define CNN_MNIST_SERIES_H

#include <stdint.h>

typedef struct series {
    int32_t count;
    int32_t cap;
    double *x;
    double *y;
} series;

/* Appends (x, y); -1 when out of memory (the series is unchanged). */
int series_push(series *s, double x, double y);

/* Widens *lo..*hi to take in the finite y values (x values); start from
 * lo = INFINITY, hi = -INFINITY to get the range of several series.
 * Returns how many finite values there were. */
int32_t series_widen_y(const series *s, double *lo, double *hi);
int32_t series_widen_x(const series *s, double *lo, double *hi);

void series_free(series *s);

#endif
