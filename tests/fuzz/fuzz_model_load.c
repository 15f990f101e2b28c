/* libFuzzer harness for cnn_net_load_buffer().
 *
 * Each input is loaded twice: as given (almost always stopped by the
 * CRC-32, which is the point of having one) and with its declared size and
 * CRC repaired, so that mutations reach the record parser and the layer
 * constructors behind the CRC.  Whatever loads must save back to exactly
 * the same bytes (the format has one encoding per network) and, when small
 * enough to be cheap, must run forward. */
#include "cnn.h"
#include "small_net.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void check_loaded(cnn_net *net, const uint8_t *data, size_t size)
{
    void *again = NULL;
    size_t again_size = 0;
    cnn_status saved = cnn_net_save_buffer(net, &again, &again_size);
    /* A file may hold NaN or infinite values (old files, damaged ones):
     * they load, but the writer refuses to save a diverged network. */
    if (saved != CNN_OK && saved != CNN_EDIVERGED)
        __builtin_trap();
    if (saved == CNN_OK) {
        /* Load then save gives the same bytes, except that a version-2
         * file whose layers keep no state is written as version 1; then
         * the rewritten file must round-trip exactly. */
        uint32_t v_in = size >= 12 ? (uint32_t)data[8] | (uint32_t)data[9] << 8 : 0;
        if (v_in == 2 && again_size >= 12 && ((const uint8_t *)again)[8] == 1) {
            cnn_net *back = NULL;
            void *third = NULL;
            size_t third_size = 0;
            if (cnn_net_load_buffer(again, again_size, &back) != CNN_OK ||
                cnn_net_save_buffer(back, &third, &third_size) != CNN_OK ||
                third_size != again_size || memcmp(third, again, again_size) != 0)
                __builtin_trap();
            cnn_free(third);
            cnn_net_destroy(back);
        } else if (again_size != size || memcmp(again, data, size) != 0) {
            __builtin_trap(); /* load then save must give the same bytes */
        }
    }
    cnn_free(again);
    if (!small_enough(net))
        return;
    int32_t s[3];
    cnn_net_input_shape(net, s);
    int64_t shape[4] = {2, s[0], s[1], s[2]};
    cnn_tensor *x = NULL;
    if (cnn_tensor_create(4, shape, &x) != CNN_OK)
        return;
    float *px = cnn_tensor_data(x);
    for (int64_t i = 0; i < cnn_tensor_numel(x); i++)
        px[i] = (float)(i % 7) / 7.0f;
    int32_t labels[2];
    cnn_status st = cnn_net_predict(net, x, labels);
    if (st != CNN_OK && st != CNN_ENOMEM)
        __builtin_trap();
    cnn_tensor_destroy(x);
}

static void load_once(const uint8_t *data, size_t size)
{
    cnn_net *net = NULL;
    cnn_status st = cnn_net_load_buffer(data, size, &net);
    if (st == CNN_OK) {
        check_loaded(net, data, size);
        cnn_net_destroy(net);
    } else if (net != NULL || cnn_last_error()[0] == '\0') {
        __builtin_trap(); /* failures leave *out NULL and say why */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load_once(data, size);
    if (size < 28 || size > (1u << 24))
        return 0;
    uint8_t *copy = malloc(size);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    put32(copy + 12, (uint32_t)size);
    put32(copy + 16, 0);
    put32(copy + size - 4, (uint32_t)crc32(crc32(0, Z_NULL, 0), copy, (uInt)(size - 4)));
    load_once(copy, size);
    free(copy);
    return 0;
}
