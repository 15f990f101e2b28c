/* Datasets: byte images shared between views.
 *
 * Memory model.  Pixels stay uint8 in a reference-counted storage block
 * {pixels[count][c*h*w], labels[count]}.  A dataset is a view of it: either
 * a contiguous range (map == NULL, example i is storage index start + i) or
 * a range of a reference-counted map of (storage index, transform) pairs
 * (example i is map entry start + i).  Slicing only moves start/count and
 * takes references, so slices of the 60,000-image training set copy
 * nothing.  The expanded set of network3's expand_mnist.py is a map of 5
 * entries per source example (int32 + uint8 = 5 bytes each): the shifted
 * images are produced when an example is read, never stored.
 *
 * Reference counts are C11 atomics because the threading contract allows
 * two distinct handles that share blocks (a dataset and its slice) to be
 * destroyed on different threads at the same time.  The blocks are
 * immutable after creation, so reads need no further synchronisation. */
#include "dataset.h"

#include <limits.h>
#include <stdatomic.h>
#include <string.h>

typedef struct ds_storage {
    atomic_long refs;
    int64_t count;
    uint8_t *pixels; /* count * size bytes */
    uint8_t *labels; /* count bytes */
} ds_storage;

typedef struct ds_map {
    atomic_long refs;
    int64_t count;
    int32_t *src;  /* storage index of each entry */
    uint8_t *xf;   /* enum cnn_data_transform of each entry */
} ds_map;

struct cnn_dataset {
    ds_storage *store;
    ds_map *map;     /* NULL: contiguous view of store */
    int64_t start;   /* first map entry, or first storage index when map is NULL */
    int64_t count;
    int32_t c, h, w;
    int64_t size;    /* c*h*w */
    int32_t classes; /* largest label in this view + 1 */
    bool augmented;  /* examples are transformed when read (cnn_dataset_augment) */
    cnn_aug_cfg aug; /* valid when augmented; copied into slices */
};

/* ---- reference-counted blocks ------------------------------------------ */

static void storage_release(ds_storage *s)
{
    /* acq_rel: the thread that frees must see every other owner's reads
     * finished, which their release-decrements publish. */
    if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
        cnn_dealloc(s->pixels);
        cnn_dealloc(s->labels);
        cnn_dealloc(s);
    }
}

static void map_release(ds_map *m)
{
    if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) {
        cnn_dealloc(m->src);
        cnn_dealloc(m->xf);
        cnn_dealloc(m);
    }
}

/* Taking a reference needs no ordering: the taker already holds one. */
static void storage_retain(ds_storage *s) { atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed); }
static void map_retain(ds_map *m) { atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed); }

/* Storage index and transform of example i of the view. */
static inline int64_t resolve(const cnn_dataset *ds, int64_t i, int *xf)
{
    if (!ds->map) {
        *xf = CNN_XFORM_IDENTITY;
        return ds->start + i;
    }
    *xf = ds->map->xf[ds->start + i];
    return ds->map->src[ds->start + i];
}

static int32_t compute_classes(const cnn_dataset *ds)
{
    int top = 0;
    for (int64_t i = 0; i < ds->count && top < 255; i++) {
        int xf;
        int lab = ds->store->labels[resolve(ds, i, &xf)];
        if (lab > top)
            top = lab;
    }
    return top + 1;
}

/* A view object sharing `store` and `map` (references taken here). */
static cnn_status view_new(const cnn_dataset *shape_of, ds_storage *store, ds_map *map,
                           int64_t start, int64_t count, cnn_dataset **out)
{
    cnn_dataset *ds = cnn_alloc_zeroed(1, sizeof *ds);
    if (!ds)
        return cnn_fail(CNN_ENOMEM, "dataset: out of memory for a dataset handle");
    storage_retain(store);
    if (map)
        map_retain(map);
    ds->store = store;
    ds->map = map;
    ds->start = start;
    ds->count = count;
    ds->c = shape_of->c;
    ds->h = shape_of->h;
    ds->w = shape_of->w;
    ds->size = shape_of->size;
    ds->augmented = shape_of->augmented;
    ds->aug = shape_of->aug;
    ds->classes = compute_classes(ds);
    *out = ds;
    return CNN_OK;
}

cnn_status cnn_dataset_adopt(int64_t count, int32_t c, int32_t h, int32_t w, uint8_t **pixels,
                             uint8_t **labels, cnn_dataset **out)
{
    ds_storage *s = cnn_alloc_zeroed(1, sizeof *s);
    if (!s) {
        cnn_dealloc(*pixels);
        cnn_dealloc(*labels);
        *pixels = *labels = NULL;
        return cnn_fail(CNN_ENOMEM, "dataset: out of memory for a storage block");
    }
    atomic_init(&s->refs, 1);
    s->count = count;
    s->pixels = *pixels;
    s->labels = *labels;
    *pixels = *labels = NULL;

    /* The shape template for view_new; the store is released after the
     * view took its own reference, so on failure the store goes too. */
    cnn_dataset shape = {.c = c, .h = h, .w = w, .size = (int64_t)c * h * w};
    cnn_status st = view_new(&shape, s, NULL, 0, count, out);
    storage_release(s);
    return st;
}

/* ---- reading examples ---------------------------------------------------- */

/* byte / 256, exact in float.  A multiply rather than a 256-entry table:
 * gcc -O3 vectorises this loop (zero-extend, convert, multiply), which
 * measured about 4x faster than table look-ups, which cannot vectorise. */
static inline void bytes_to_floats(const uint8_t *restrict in, float *restrict out, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = (float)in[i] * (1.0f / 256.0f);
}

/* Writes one example with transform xf applied.  Every shift is, over the
 * whole example, one contiguous copy at a fixed offset (one row for
 * down/up, one element for right/left), so a single long vectorised loop
 * does the work; the only values that offset copy gets wrong are those
 * that crossed a row or plane edge, and those are exactly the vacated row
 * or column, which is then cleared. */
static void decode(const uint8_t *img, int xf, int32_t c, int32_t h, int32_t w, float *out)
{
    const int64_t plane = (int64_t)h * w, n = c * plane, rows = (int64_t)c * h;
    switch (xf) {
    case CNN_XFORM_IDENTITY:
        bytes_to_floats(img, out, n);
        break;
    case CNN_XFORM_DOWN: /* out[k] = in[k - w]; row 0 of each plane cleared */
        bytes_to_floats(img, out + w, n - w);
        for (int32_t ch = 0; ch < c; ch++)
            memset(out + ch * plane, 0, (size_t)w * sizeof *out);
        break;
    case CNN_XFORM_UP: /* out[k] = in[k + w]; last row of each plane cleared */
        bytes_to_floats(img + w, out, n - w);
        for (int32_t ch = 0; ch < c; ch++)
            memset(out + ch * plane + plane - w, 0, (size_t)w * sizeof *out);
        break;
    case CNN_XFORM_RIGHT: /* out[k] = in[k - 1]; column 0 of each row cleared */
        bytes_to_floats(img, out + 1, n - 1);
        for (int64_t r = 0; r < rows; r++)
            out[r * w] = 0.0f;
        break;
    default: /* CNN_XFORM_LEFT: out[k] = in[k + 1]; last column cleared */
        bytes_to_floats(img + 1, out, n - 1);
        for (int64_t r = 0; r < rows; r++)
            out[r * w + w - 1] = 0.0f;
        break;
    }
}

/* Asks for the cache lines of one example ahead of use.  Shuffled and
 * expanded datasets read their images in random order, so every image is
 * a cache miss; overlapping the next image's misses with this image's
 * conversion measured about 2.7x faster on a 47 MB training set. */
static inline void prefetch_example(const uint8_t *img, int64_t size)
{
#if defined(__GNUC__)
    for (int64_t k = 0; k < size; k += 64)
        __builtin_prefetch(img + k);
#else
    (void)img;
    (void)size;
#endif
}

/* Example e (position pos in storage or map, stored at src with expand
 * transform xf) of pass `pass`, as floats. */
static inline void read_example(const cnn_dataset *ds, int64_t pos, int64_t src, int xf,
                                uint64_t pass, float *out)
{
    const uint8_t *img = ds->store->pixels + src * ds->size;
    if (!ds->augmented || !cnn_aug_example(&ds->aug, pass, pos, img, xf, ds->c, ds->h, ds->w, out))
        decode(img, xf, ds->c, ds->h, ds->w, out);
}

void cnn_dataset_gather(const cnn_dataset *ds, const int64_t *indices, int64_t start, int n,
                        float *x, int32_t *labels, uint64_t pass)
{
    const ds_storage *s = ds->store;
    int xf = CNN_XFORM_IDENTITY, next_xf = CNN_XFORM_IDENTITY;
    int64_t next_e = n > 0 ? (indices ? indices[start] : start) : 0;
    int64_t next = n > 0 ? resolve(ds, next_e, &next_xf) : 0;
    for (int i = 0; i < n; i++) {
        int64_t src = next, e = next_e;
        xf = next_xf;
        if (i + 1 < n) {
            next_e = indices ? indices[start + i + 1] : start + i + 1;
            next = resolve(ds, next_e, &next_xf);
            prefetch_example(s->pixels + next * ds->size, ds->size);
        }
        read_example(ds, ds->start + e, src, xf, pass, x + (int64_t)i * ds->size);
        if (labels)
            labels[i] = s->labels[src];
    }
}

int32_t cnn_dataset_classes(const cnn_dataset *ds) { return ds->classes; }

int64_t cnn_dataset_example_size(const cnn_dataset *ds) { return ds->size; }

/* ---- public API ---------------------------------------------------------- */

cnn_status cnn_dataset_create(int64_t count, int32_t c, int32_t h, int32_t w,
                              const uint8_t *pixels, const uint8_t *labels, cnn_dataset **out)
{
    if (out)
        *out = NULL;
    if (!pixels || !labels || !out)
        return cnn_fail(CNN_EINVAL, "dataset_create: %s is NULL",
                        !pixels ? "pixels" : !labels ? "labels" : "out");
    if (count < 1 || c < 1 || h < 1 || w < 1)
        return cnn_fail(CNN_EINVAL,
                        "dataset_create: count %lld and shape %dx%dx%d must all be >= 1",
                        (long long)count, (int)c, (int)h, (int)w);
    int64_t size = (int64_t)c * h;
    if (size > CNN_DATA_MAX_EXAMPLE_SIZE || size * w > CNN_DATA_MAX_EXAMPLE_SIZE)
        return cnn_fail(CNN_EINVAL, "dataset_create: image %dx%dx%d exceeds %lld elements",
                        (int)c, (int)h, (int)w, (long long)CNN_DATA_MAX_EXAMPLE_SIZE);
    size *= w;
    size_t bytes;
    if ((uint64_t)count > SIZE_MAX || cnn_mul_overflows((size_t)count, (size_t)size, &bytes))
        return cnn_fail(CNN_EINVAL, "dataset_create: %lld images of %lld bytes overflow",
                        (long long)count, (long long)size);

    uint8_t *px = cnn_alloc(bytes);
    uint8_t *lb = px ? cnn_alloc((size_t)count) : NULL;
    if (!lb) {
        cnn_dealloc(px);
        return cnn_fail(CNN_ENOMEM, "dataset_create: out of memory for %lld images",
                        (long long)count);
    }
    memcpy(px, pixels, bytes);
    memcpy(lb, labels, (size_t)count);
    return cnn_dataset_adopt(count, c, h, w, &px, &lb, out);
}

void cnn_dataset_destroy(cnn_dataset *ds)
{
    if (!ds)
        return;
    map_release(ds->map);
    storage_release(ds->store);
    cnn_dealloc(ds);
}

int64_t cnn_dataset_count(const cnn_dataset *ds) { return ds ? ds->count : 0; }

cnn_status cnn_dataset_shape(const cnn_dataset *ds, int32_t shape[3])
{
    if (!ds || !shape)
        return cnn_fail(CNN_EINVAL, "dataset_shape: %s is NULL", !ds ? "dataset" : "shape");
    shape[0] = ds->c;
    shape[1] = ds->h;
    shape[2] = ds->w;
    return CNN_OK;
}

cnn_status cnn_dataset_slice(const cnn_dataset *ds, int64_t start, int64_t count,
                             cnn_dataset **out)
{
    if (out)
        *out = NULL;
    if (!ds || !out)
        return cnn_fail(CNN_EINVAL, "dataset_slice: %s is NULL", !ds ? "dataset" : "out");
    /* Written so that no expression can overflow for any int64 inputs. */
    if (start < 0 || count < 1 || start > ds->count || count > ds->count - start)
        return cnn_fail(CNN_EINVAL,
                        "dataset_slice: [%lld, %lld + %lld) is outside the %lld examples",
                        (long long)start, (long long)start, (long long)count,
                        (long long)ds->count);
    return view_new(ds, ds->store, ds->map, ds->start + start, count, out);
}

/* Copies a view that uses transforms into a new storage block of plain
 * images, so that expand can apply its own transforms to them.  (Shifts do
 * not compose into one shift code: down then up is not the identity but
 * the image with its last row cleared.) */
static cnn_status materialise(const cnn_dataset *ds, ds_storage **out)
{
    *out = NULL;
    size_t bytes = (size_t)ds->count * (size_t)ds->size; /* <= the parent's storage */
    ds_storage *s = cnn_alloc_zeroed(1, sizeof *s);
    float *tmp = cnn_alloc_array((size_t)ds->size, sizeof *tmp);
    uint8_t *px = cnn_alloc(bytes);
    uint8_t *lb = cnn_alloc((size_t)ds->count);
    if (!s || !tmp || !px || !lb) {
        cnn_dealloc(s);
        cnn_dealloc(tmp);
        cnn_dealloc(px);
        cnn_dealloc(lb);
        return cnn_fail(CNN_ENOMEM, "dataset_expand: out of memory copying %lld images",
                        (long long)ds->count);
    }
    for (int64_t i = 0; i < ds->count; i++) {
        int32_t label;
        cnn_dataset_gather(ds, NULL, i, 1, tmp, &label, 0);
        uint8_t *dst = px + i * ds->size;
        for (int64_t k = 0; k < ds->size; k++)
            dst[k] = (uint8_t)(tmp[k] * 256.0f); /* exact inverse of byte/256 */
        lb[i] = (uint8_t)label;
    }
    cnn_dealloc(tmp);
    atomic_init(&s->refs, 1);
    s->count = ds->count;
    s->pixels = px;
    s->labels = lb;
    *out = s;
    return CNN_OK;
}

static bool has_transforms(const cnn_dataset *ds)
{
    if (!ds->map)
        return false;
    for (int64_t i = 0; i < ds->count; i++)
        if (ds->map->xf[ds->start + i] != CNN_XFORM_IDENTITY)
            return true;
    return false;
}

cnn_status cnn_dataset_expand(const cnn_dataset *ds, uint64_t seed, cnn_dataset **out)
{
    if (out)
        *out = NULL;
    if (!ds || !out)
        return cnn_fail(CNN_EINVAL, "dataset_expand: %s is NULL", !ds ? "dataset" : "out");
    if (ds->augmented)
        return cnn_fail(CNN_EINVAL, "dataset_expand: the dataset is augmented; expand first, "
                        "then augment the expansion");

    /* The map stores int32 storage indices; refuse anything it cannot hold
     * (2^31 images would be hundreds of GB of pixels anyway). */
    const int64_t n = ds->count;
    if (n > INT32_MAX / CNN_XFORM_COUNT || (!ds->map && ds->start + n - 1 > INT32_MAX))
        return cnn_fail(CNN_EINVAL, "dataset_expand: %lld examples exceed the limit of %d",
                        (long long)n, INT32_MAX / CNN_XFORM_COUNT);

    /* A source whose examples are already shifted is copied first; the
     * expansion then refers to the copy's plain images. */
    ds_storage *store = ds->store;
    ds_storage *copy = NULL;
    if (has_transforms(ds)) {
        cnn_status st = materialise(ds, &copy);
        if (st != CNN_OK)
            return st;
        store = copy;
    }

    const int64_t total = n * CNN_XFORM_COUNT;
    ds_map *m = cnn_alloc_zeroed(1, sizeof *m);
    int32_t *src = cnn_alloc_array((size_t)total, sizeof *src);
    uint8_t *xf = cnn_alloc((size_t)total);
    if (!m || !src || !xf) {
        cnn_dealloc(m);
        cnn_dealloc(src);
        cnn_dealloc(xf);
        storage_release(copy);
        return cnn_fail(CNN_ENOMEM, "dataset_expand: out of memory for %lld examples",
                        (long long)total);
    }

    /* expand_mnist.py's order: each image, then down, up, right, left. */
    for (int64_t i = 0; i < n; i++) {
        int unused;
        int32_t s = copy ? (int32_t)i : (int32_t)resolve(ds, i, &unused);
        for (int k = 0; k < CNN_XFORM_COUNT; k++) {
            src[i * CNN_XFORM_COUNT + k] = s;
            xf[i * CNN_XFORM_COUNT + k] = (uint8_t)k;
        }
    }
    /* Then one Fisher-Yates shuffle from the end, the same walk as
     * Python's random.shuffle (not the same numbers: different generator). */
    cnn_rng rng;
    cnn_rng_seed(&rng, seed);
    for (int64_t i = total - 1; i > 0; i--) {
        int64_t j = (int64_t)cnn_rng_below(&rng, (uint64_t)i + 1);
        int32_t ts = src[i];
        src[i] = src[j];
        src[j] = ts;
        uint8_t tx = xf[i];
        xf[i] = xf[j];
        xf[j] = tx;
    }

    atomic_init(&m->refs, 1);
    m->count = total;
    m->src = src;
    m->xf = xf;
    cnn_status st = view_new(ds, store, m, 0, total, out);
    map_release(m);         /* the view holds its own references; on */
    storage_release(copy);  /* failure these free everything */
    return st;
}

cnn_status cnn_dataset_get(const cnn_dataset *ds, int64_t index, float *pixels, int32_t *label)
{
    if (!ds)
        return cnn_fail(CNN_EINVAL, "dataset_get: dataset is NULL");
    if (index < 0 || index >= ds->count)
        return cnn_fail(CNN_EINVAL, "dataset_get: index %lld outside [0, %lld)",
                        (long long)index, (long long)ds->count);
    int xf;
    int64_t src = resolve(ds, index, &xf);
    if (pixels)
        read_example(ds, ds->start + index, src, xf, 0, pixels);
    if (label)
        *label = ds->store->labels[src];
    return CNN_OK;
}

cnn_status cnn_dataset_batch(const cnn_dataset *ds, int64_t start, int64_t count, cnn_tensor *x,
                             int32_t *labels)
{
    if (!ds || !x)
        return cnn_fail(CNN_EINVAL, "dataset_batch: %s is NULL", !ds ? "dataset" : "tensor");
    if (start < 0 || count < 1 || start > ds->count || count > ds->count - start)
        return cnn_fail(CNN_EINVAL,
                        "dataset_batch: [%lld, %lld + %lld) is outside the %lld examples",
                        (long long)start, (long long)start, (long long)count,
                        (long long)ds->count);
    /* count <= ds->count and size <= 2^24, and the storage holding them
     * fitted in memory, so count * size cannot overflow. */
    if (x->ndim < 1 || x->shape[0] != count || x->numel != count * ds->size) {
        char buf[64];
        return cnn_fail(CNN_ESHAPE,
                        "dataset_batch: tensor %s does not hold %lld images of %dx%dx%d",
                        cnn_shape_str(x, buf, sizeof buf), (long long)count, (int)ds->c,
                        (int)ds->h, (int)ds->w);
    }
    /* gather takes an int count; go in chunks so any int64 count works. */
    for (int64_t done = 0; done < count;) {
        int n = count - done > INT_MAX ? INT_MAX : (int)(count - done);
        cnn_dataset_gather(ds, NULL, start + done, n, x->data + done * ds->size,
                           labels ? labels + done : NULL, 0);
        done += n;
    }
    return CNN_OK;
}

cnn_status cnn_dataset_augment(const cnn_dataset *ds, const cnn_augment_params *p,
                               cnn_dataset **out)
{
    if (out)
        *out = NULL;
    if (!ds || !p || !out)
        return cnn_fail(CNN_EINVAL, "dataset_augment: %s is NULL",
                        !ds ? "dataset" : !p ? "params" : "out");
    if (ds->augmented)
        return cnn_fail(CNN_EINVAL, "dataset_augment: the dataset is already augmented; "
                        "augment the unaugmented dataset with all the transforms at once");
    /* The new view is ds with augmentation switched on: same storage, map
     * and range, so keys (positions) match those of ds's examples. */
    cnn_dataset shape = *ds;
    cnn_status st = cnn_aug_configure(p, ds->h, ds->w, &shape.aug);
    if (st != CNN_OK)
        return st;
    shape.augmented = true;
    return view_new(&shape, ds->store, ds->map, ds->start, ds->count, out);
}
