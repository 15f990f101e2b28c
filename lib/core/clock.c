/* Monotonic time for throughput figures.  Never used to seed anything. */
#include "core.h"

#include <time.h>

double cnn_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
