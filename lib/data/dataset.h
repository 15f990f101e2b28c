/* Internal interface of the dataset module (lib/data).
 *
 * A cnn_dataset is a view: a reference-counted storage block of uint8
 * pixels and labels, plus either a contiguous range of it or a
 * reference-counted map of (storage index, transform) pairs.  Slices and
 * expansions share the blocks, so destroying a parent never invalidates
 * what was derived from it.  The struct itself is private to dataset.c. */
#ifndef CNN_DATA_DATASET_H
#define CNN_DATA_DATASET_H

#include "core.h"

#include <stdint.h>

/* ---- used by the network and training code ---------------------------- */

/* Copies n examples into x (n * c*h*w floats, scaled /256) and labels (n
 * int32, may be NULL).  indices: if non-NULL, example i of the batch is
 * indices[start + i]; otherwise it is start + i.  pass selects an augmented
 * dataset's transforms (cnn_dataset_augment): training passes the epoch
 * number, evaluation 0; other datasets ignore it.  No checks: the caller
 * validated. */
void cnn_dataset_gather(const cnn_dataset *ds, const int64_t *indices, int64_t start, int n,
                        float *x, int32_t *labels, uint64_t pass);

/* Largest label + 1 (computed once at creation and cached). */
int32_t cnn_dataset_classes(const cnn_dataset *ds);

/* Image elements per example c*h*w. */
int64_t cnn_dataset_example_size(const cnn_dataset *ds);

/* ---- used inside lib/data only ----------------------------------------- */

/* Transform codes of an expanded dataset's examples, applied when read. */
enum cnn_data_transform {
    CNN_XFORM_IDENTITY = 0,
    CNN_XFORM_DOWN = 1,  /* row r <- row r-1, row 0 zero */
    CNN_XFORM_UP = 2,    /* row r <- row r+1, last row zero */
    CNN_XFORM_RIGHT = 3, /* column j <- column j-1, column 0 zero */
    CNN_XFORM_LEFT = 4,  /* column j <- column j+1, last column zero */
    CNN_XFORM_COUNT = 5
};

/* An augmented view's settings, validated (lib/data/augment.c). */
typedef struct cnn_aug_cfg {
    double probability;
    double rotate[2], scale[2], shift_x[2], shift_y[2], shear[2]; /* [min, max] */
    float alpha, sigma;
    uint64_t seed;
} cnn_aug_cfg;

/* Validates p for images of h x w and fills cfg; CNN_EINVAL with a message. */
cnn_status cnn_aug_configure(const cnn_augment_params *p, int32_t h, int32_t w, cnn_aug_cfg *cfg);

/* Writes example `key` (its position in storage or map) of pass `pass`,
 * stored as bytes img (c planes of h x w) under expand transform xf, into
 * out (c*h*w floats, byte/256 scale) transformed; returns false, writing
 * nothing, when this example draws no transform this pass. */
bool cnn_aug_example(const cnn_aug_cfg *cfg, uint64_t pass, int64_t key, const uint8_t *img,
                     int xf, int32_t c, int32_t h, int32_t w, float *out);

/* Largest c*h*w of one example.  Keeps per-example arithmetic in int64 far
 * from overflow and matches idx.c's per-image limit. */
#define CNN_DATA_MAX_EXAMPLE_SIZE ((int64_t)CNN_MAX_EXAMPLE)

/* Makes a contiguous dataset that takes ownership of *pixels (count*c*h*w
 * bytes) and *labels (count bytes), both from cnn_alloc.  On success and on
 * failure alike the buffers belong to the callee afterwards and both
 * pointers are set to NULL, so callers have one cleanup path.  Sizes must
 * already be validated (count >= 1, c*h*w in [1, CNN_DATA_MAX_EXAMPLE_SIZE]). */
cnn_status cnn_dataset_adopt(int64_t count, int32_t c, int32_t h, int32_t w, uint8_t **pixels,
                             uint8_t **labels, cnn_dataset **out);

#endif /* CNN_DATA_DATASET_H */
