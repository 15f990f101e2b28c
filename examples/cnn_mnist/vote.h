/* Plurality vote of an ensemble for one example (chapter 6, row 11).
 *
 * Kept free of libcnn and of allocation so that a unit test can compile it
 * on its own (tests/test_vote.c). */
#ifndef CNN_MNIST_VOTE_H
#define CNN_MNIST_VOTE_H

#include <stdint.h>

/* Largest class count vote_plurality() accepts (it counts on the stack). */
#define VOTE_MAX_CLASSES 256

/*
 * The class chosen by `members` classifiers for one example.
 *
 *   votes  members entries: each member's predicted class, in [0, classes)
 *   probs  members x classes probabilities, row m = member m's softmax
 *          output (probs[m * classes + c]); may be NULL
 *
 * The class with the most votes wins.  Tie rule: among the classes tied for
 * the most votes, the one with the highest probability summed over all
 * members wins (the members' combined confidence settles what their votes
 * could not); if that is tied too, or probs is NULL, the lowest class index
 * wins, matching the lowest-index rule of cnn_net_predict().
 *
 * Returns the class, or -1 if members < 1, classes < 1 or > VOTE_MAX_CLASSES,
 * votes is NULL, or a vote lies outside [0, classes).
 */
int32_t vote_plurality(const int32_t *votes, const float *probs, int32_t members,
                       int32_t classes);

/* 1 if all `members` votes name the same class (a single member agrees with
 * itself), 0 if any two differ, -1 for members < 1 or votes NULL. */
int vote_unanimous(const int32_t *votes, int32_t members);

#endif
