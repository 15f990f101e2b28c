/* Unit tests of the cnn-mnist ensemble vote (examples/cnn_mnist/vote.c).
 *
 * The vote is a pure function of the example program, not of the library;
 * it is compiled into this test by including its source, so the generic
 * test loop in tests/meson.build builds it without a special case. */
#include "testutil.h"

#include "../examples/cnn_mnist/vote.c"

START_TEST(unanimity)
{
    const int32_t same[4] = {3, 3, 3, 3}, split[4] = {3, 3, 5, 3};
    ck_assert_int_eq(vote_unanimous(same, 4), 1);
    ck_assert_int_eq(vote_unanimous(split, 4), 0);
    ck_assert_int_eq(vote_unanimous(split, 2), 1); /* only the first two count */
    ck_assert_int_eq(vote_unanimous(split, 1), 1);
    ck_assert_int_eq(vote_unanimous(split, 0), -1);
    ck_assert_int_eq(vote_unanimous(NULL, 3), -1);
}
END_TEST

START_TEST(unanimous)
{
    int32_t votes[5] = {7, 7, 7, 7, 7};
    ck_assert_int_eq(vote_plurality(votes, NULL, 5, 10), 7);
}
END_TEST

START_TEST(single_member)
{
    int32_t votes[1] = {3};
    ck_assert_int_eq(vote_plurality(votes, NULL, 1, 10), 3);
}
END_TEST

START_TEST(plurality_beats_confidence)
{
    /* Three votes for 2 win over two very confident votes for 5. */
    int32_t votes[5] = {2, 5, 2, 5, 2};
    float probs[5 * 10] = {0};
    for (int m = 0; m < 5; m++)
        probs[m * 10 + votes[m]] = votes[m] == 5 ? 1.0f : 0.4f;
    ck_assert_int_eq(vote_plurality(votes, probs, 5, 10), 2);
}
END_TEST

START_TEST(plurality_not_majority)
{
    /* 2 votes are enough when the rest split. */
    int32_t votes[5] = {1, 4, 9, 4, 0};
    ck_assert_int_eq(vote_plurality(votes, NULL, 5, 10), 4);
}
END_TEST

START_TEST(tie_goes_to_higher_summed_probability)
{
    /* 2-2-1 tie between 3 and 8: 8's summed probability is larger, counting
     * every member's probability for it, not only its voters'. */
    int32_t votes[5] = {3, 8, 3, 8, 1};
    float probs[5 * 10] = {0};
    probs[0 * 10 + 3] = 0.6f; probs[0 * 10 + 8] = 0.3f;
    probs[1 * 10 + 8] = 0.5f; probs[1 * 10 + 3] = 0.4f;
    probs[2 * 10 + 3] = 0.5f; probs[2 * 10 + 8] = 0.4f;
    probs[3 * 10 + 8] = 0.6f; probs[3 * 10 + 3] = 0.1f;
    probs[4 * 10 + 1] = 0.5f; probs[4 * 10 + 8] = 0.4f; probs[4 * 10 + 3] = 0.1f;
    /* sums: 3 -> 1.7, 8 -> 2.2 */
    ck_assert_int_eq(vote_plurality(votes, probs, 5, 10), 8);
    /* Make 3 the more probable one and the answer follows. */
    probs[4 * 10 + 3] = 0.9f; probs[4 * 10 + 8] = 0.0f; /* 3 -> 2.5, 8 -> 1.8 */
    ck_assert_int_eq(vote_plurality(votes, probs, 5, 10), 3);
}
END_TEST

START_TEST(tie_ignores_untied_classes)
{
    /* Class 0 has the largest summed probability but only one vote. */
    int32_t votes[5] = {6, 2, 6, 2, 0};
    float probs[5 * 10] = {0};
    for (int m = 0; m < 5; m++)
        probs[m * 10 + 0] = 0.45f;
    probs[0 * 10 + 6] = 0.5f; probs[2 * 10 + 6] = 0.5f;
    probs[1 * 10 + 2] = 0.5f; probs[3 * 10 + 2] = 0.6f;
    ck_assert_int_eq(vote_plurality(votes, probs, 5, 10), 2);
}
END_TEST

START_TEST(full_tie_lowest_index)
{
    int32_t votes[2] = {9, 4};
    float probs[2 * 10] = {0};
    probs[0 * 10 + 9] = 0.5f; probs[0 * 10 + 4] = 0.5f;
    probs[1 * 10 + 9] = 0.5f; probs[1 * 10 + 4] = 0.5f;
    ck_assert_int_eq(vote_plurality(votes, probs, 2, 10), 4);
    /* Without probabilities a tie also goes to the lowest index. */
    ck_assert_int_eq(vote_plurality(votes, NULL, 2, 10), 4);
}
END_TEST

START_TEST(invalid_input)
{
    int32_t votes[3] = {1, 2, 3};
    ck_assert_int_eq(vote_plurality(NULL, NULL, 3, 10), -1);
    ck_assert_int_eq(vote_plurality(votes, NULL, 0, 10), -1);
    ck_assert_int_eq(vote_plurality(votes, NULL, 3, 0), -1);
    ck_assert_int_eq(vote_plurality(votes, NULL, 3, VOTE_MAX_CLASSES + 1), -1);
    ck_assert_int_eq(vote_plurality(votes, NULL, 3, 3), -1); /* vote 3 of 3 classes */
    int32_t neg[2] = {0, -1};
    ck_assert_int_eq(vote_plurality(neg, NULL, 2, 10), -1);
}
END_TEST

static Suite *vote_suite(void)
{
    Suite *s = suite_create("vote");
    TCase *tc = tcase_create("plurality");
    tcase_add_test(tc, unanimous);
    tcase_add_test(tc, unanimity);
    tcase_add_test(tc, single_member);
    tcase_add_test(tc, plurality_beats_confidence);
    tcase_add_test(tc, plurality_not_majority);
    tcase_add_test(tc, tie_goes_to_higher_summed_probability);
    tcase_add_test(tc, tie_ignores_untied_classes);
    tcase_add_test(tc, full_tie_lowest_index);
    tcase_add_test(tc, invalid_input);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(vote_suite()) == 0 ? 0 : 1;
}
