/* Learning-rate schedules of cnn_train (cnn_train_params::schedule): the
 * rate of global step t is a pure function of the settings, the
 * optimizer's creation rate, t and the run's length, so a resumed run
 * recomputes it from the epoch it restarts at; checkpoints store only the
 * settings (to compare them). */
#include "core.h"

#include <math.h>

#define PI 3.14159265358979323846

float cnn_schedule_rate(const cnn_train_params *p, float base, int64_t t, int64_t total,
                        int64_t steps_per_epoch)
{
    if (!p || t < 0 || t >= total || steps_per_epoch < 1)
        return 0.0f;
    const double r0 = base, T = (double)total, x = (double)t;
    const double floor_rate = (double)p->final_lr_fraction * r0;
    switch (p->schedule) {
    case CNN_SCHEDULE_CONSTANT:
        return base;
    case CNN_SCHEDULE_STEP: {
        int64_t unit = p->schedule_step_epochs ? t / steps_per_epoch : t;
        int64_t k = unit / (p->schedule_step > 0 ? p->schedule_step : 1);
        return (float)(r0 * pow((double)p->schedule_gamma, (double)k));
    }
    case CNN_SCHEDULE_COSINE:
        return (float)(floor_rate + (r0 - floor_rate) * 0.5 * (1.0 + cos(PI * x / T)));
    case CNN_SCHEDULE_ONECYCLE: {
        const double w = (double)p->warmup_fraction * T;
        if (x < w) {
            const double i = p->initial_lr_fraction;
            return (float)(r0 * (i + (1.0 - i) * x / w));
        }
        return (float)(floor_rate + (r0 - floor_rate) * 0.5 * (1.0 + cos(PI * (x - w) / (T - w))));
    }
    default:
        return 0.0f;
    }
}
