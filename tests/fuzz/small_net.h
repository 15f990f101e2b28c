/* Shared by the fuzz harnesses that load networks: whether a network is
 * small enough to run forward without slowing the fuzzer or crossing its
 * memory limit.  Inputs whose activations would be large are loaded but
 * not run. */
#ifndef CNN_FUZZ_SMALL_NET_H
#define CNN_FUZZ_SMALL_NET_H

#include "cnn.h"

#include <string.h>

#define RUN_MAX_ELEMS 65536

static int small_enough(cnn_net *net)
{
    int32_t s[3], o[3];
    if (cnn_net_input_shape(net, s) != CNN_OK)
        return 0;
    if ((int64_t)s[0] * s[1] * s[2] > RUN_MAX_ELEMS)
        return 0;
    for (int32_t i = 0; i < cnn_net_layer_count(net); i++) {
        if (cnn_layer_output_shape(cnn_net_layer(net, i), s, o) != CNN_OK)
            __builtin_trap(); /* cnn_net_add accepted this shape */
        /* The im2col scratch of a conv can exceed its output by kh*kw*in. */
        if ((int64_t)o[0] * o[1] * o[2] > RUN_MAX_ELEMS ||
            cnn_layer_param_count(cnn_net_layer(net, i)) > RUN_MAX_ELEMS)
            return 0;
        memcpy(s, o, sizeof s);
    }
    return cnn_net_layer_count(net) > 0;
}

#endif
