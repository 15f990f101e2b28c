/* Every public constant by name, so that FFI callers, which cannot see the
 * header's macros and enums, can look values up (or check the values they
 * pinned) at run time.  The list below must name every constant of cnn.h;
 * tests/test_status.c checks each entry against the header. */
#include "core.h"
#include "layers/layer.h"

#include <string.h>

typedef struct named_constant {
    const char *name;
    int64_t value;
} named_constant;

#define ENTRY(name) {#name, (int64_t)(name)}

static const named_constant constants[] = {
    ENTRY(CNN_VERSION_MAJOR),
    ENTRY(CNN_VERSION_MINOR),
    ENTRY(CNN_VERSION_PATCH),
    ENTRY(CNN_MAX_RANK),
    ENTRY(CNN_ISA_GENERIC),
    ENTRY(CNN_ISA_AVX2),
    ENTRY(CNN_ISA_AVX512),
    ENTRY(CNN_OK),
    ENTRY(CNN_EINVAL),
    ENTRY(CNN_ESHAPE),
    ENTRY(CNN_ENOMEM),
    ENTRY(CNN_EIO),
    ENTRY(CNN_EFORMAT),
    ENTRY(CNN_EVERSION),
    ENTRY(CNN_ECANCELED),
    ENTRY(CNN_ESTATE),
    ENTRY(CNN_ECHECKSUM),
    ENTRY(CNN_EDIVERGED),
    ENTRY(CNN_ENOTSUP),
    ENTRY(CNN_MAX_DIM),
    ENTRY(CNN_MAX_LAYERS),
    ENTRY(CNN_MAX_THREADS),
    ENTRY(CNN_MAX_FEATURES),
    ENTRY(CNN_MAX_EXAMPLE),
    ENTRY(CNN_MAX_PARAMS),
    ENTRY(CNN_MAX_UNFOLD),
    ENTRY(CNN_PAD_EXPLICIT),
    ENTRY(CNN_PAD_SAME),
    ENTRY(CNN_ACT_IDENTITY),
    ENTRY(CNN_ACT_SIGMOID),
    ENTRY(CNN_ACT_TANH),
    ENTRY(CNN_ACT_RELU),
    ENTRY(CNN_POOL_NONE),
    ENTRY(CNN_POOL_MAX),
    ENTRY(CNN_POOL_AVG),
    ENTRY(CNN_POOL_L2),
    ENTRY(CNN_INIT_NETWORK3),
    ENTRY(CNN_INIT_HE),
    ENTRY(CNN_INIT_GLOROT),
    ENTRY(CNN_INIT_ZERO),
    ENTRY(CNN_MODE_INFER),
    ENTRY(CNN_MODE_TRAIN),
    ENTRY(CNN_PARAM_WEIGHTS),
    ENTRY(CNN_PARAM_BIASES),
    ENTRY(CNN_PARAM_GRAD_WEIGHTS),
    ENTRY(CNN_PARAM_GRAD_BIASES),
    ENTRY(CNN_MNIST_TRAIN),
    ENTRY(CNN_MNIST_TEST),
    ENTRY(CNN_AUGMENT_MAX_ELASTIC_SIDE),
};

#define N_FIXED ((int32_t)(sizeof constants / sizeof constants[0]))

/* Entry `index`: the fixed table first, then one CNN_LAYER_* per
 * registered layer kind (so a new kind needs no line here). */
static bool entry(int32_t index, const char **name, int64_t *value)
{
    if (index < 0 || index >= cnn_constant_count())
        return false;
    if (index < N_FIXED) {
        *name = constants[index].name;
        *value = constants[index].value;
    } else {
        const cnn_layer_ops *ops = cnn_layer_kinds[index - N_FIXED];
        *name = ops->const_name;
        *value = ops->kind;
    }
    return true;
}

cnn_status cnn_constant(const char *name, int64_t *value)
{
    if (!name || !value)
        return cnn_fail(CNN_EINVAL, "cnn_constant: %s is NULL", name ? "value" : "name");
    const char *n;
    int64_t v;
    for (int32_t i = 0; entry(i, &n, &v); i++)
        if (strcmp(n, name) == 0) {
            *value = v;
            return CNN_OK;
        }
    return cnn_fail(CNN_EINVAL, "cnn_constant: no constant named \"%s\"", name);
}

int32_t cnn_constant_count(void)
{
    return N_FIXED + cnn_layer_kind_count;
}

const char *cnn_constant_name(int32_t index)
{
    const char *n;
    int64_t v;
    return entry(index, &n, &v) ? n : NULL;
}
