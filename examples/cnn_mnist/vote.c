/* Plurality vote with a probability tie-break; see vote.h for the rule. */
#include "vote.h"

#include <stddef.h>

int32_t vote_plurality(const int32_t *votes, const float *probs, int32_t members,
                       int32_t classes)
{
    if (votes == NULL || members < 1 || classes < 1 || classes > VOTE_MAX_CLASSES)
        return -1;

    int32_t count[VOTE_MAX_CLASSES] = {0};
    int32_t most = 0;
    for (int32_t m = 0; m < members; m++) {
        int32_t v = votes[m];
        if (v < 0 || v >= classes)
            return -1;
        if (++count[v] > most)
            most = count[v];
    }

    /* Scan classes in increasing order and replace the winner only on a
     * strictly larger summed probability: equal sums keep the lower index. */
    int32_t best = -1;
    double best_sum = 0.0;
    for (int32_t c = 0; c < classes; c++) {
        if (count[c] != most)
            continue;
        double sum = 0.0;
        if (probs != NULL)
            for (int32_t m = 0; m < members; m++)
                sum += (double)probs[(size_t)m * (size_t)classes + (size_t)c];
        if (best < 0 || sum > best_sum) {
            best = c;
            best_sum = sum;
        }
    }
    return best;
}

int vote_unanimous(const int32_t *votes, int32_t members)
{
    if (votes == NULL || members < 1)
        return -1;
    for (int32_t m = 1; m < members; m++)
        if (votes[m] != votes[0])
            return 0;
    return 1;
}
