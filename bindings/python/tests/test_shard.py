"""Net.train(shard=...): cnn_train_sharded from Python.  Two threads play
two processes, joined by a reduce written here (a barrier and a sum in rank
order), as tests/test_shard.c does in C: the ranks must end with the same
weights bit for bit, and close to one process training on whole batches
(they differ by summation order only)."""
import threading
import unittest

import cnn
from .synth import synthetic

BATCH = 10


def small_net(seed=3):
    net = cnn.Net((1, 28, 28), seed=seed)
    net.add(cnn.conv2d(4, 5, pool="max", activation="relu"))
    net.add(cnn.dense(16, activation="relu"))
    net.add(cnn.softmax(10))
    return net


def dataset(count):
    pixels, labels = synthetic(count, 0)
    return cnn.Dataset.create(pixels, labels, (1, 28, 28))


class InProcessReduce:
    """cnn_reduce_fn over threads: each rank posts its weighted values, then
    every rank sums the posts in rank order, so all get the same bits."""

    def __init__(self, ranks):
        self.posts = [None] * ranks
        self.costs = [0.0] * ranks
        self.barrier = threading.Barrier(ranks, timeout=60)

    def for_rank(self, rank):
        def reduce(values, cost, local, global_examples):
            w = local / global_examples
            self.posts[rank] = [v * w for v in values]
            self.costs[rank] = (cost or 0.0) * w
            self.barrier.wait()
            for i in range(len(values)):
                total = 0.0
                for post in self.posts:
                    total += post[i]
                values[i] = total
            reduced = sum(self.costs)
            self.barrier.wait()  # nobody posts the next step before all have read
            return reduced
        return reduce


def train_ranks(ranks, data, epochs=2):
    nets = [small_net() for _ in range(ranks)]
    reduce = InProcessReduce(ranks)
    errors = []

    def run(rank):
        try:
            nets[rank].train(data, cnn.SGD(0.1, momentum=0.9), epochs, batch_size=BATCH,
                             shuffle=True, seed=7, shard=(rank, ranks, reduce.for_rank(rank)))
        except BaseException as e:  # noqa: B902 - reported by the test
            errors.append(e)
            reduce.barrier.abort()

    threads = [threading.Thread(target=run, args=(r,)) for r in range(ranks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return nets


class Sharded(unittest.TestCase):
    def test_ranks_agree_and_match_one_process(self):
        data = dataset(60)
        a, b = train_ranks(2, data)
        self.assertEqual(list(a.params()), list(b.params()))  # bit for bit
        one = small_net()
        one.train(data, cnn.SGD(0.1, momentum=0.9), 2, batch_size=BATCH, shuffle=True, seed=7)
        diff = max(abs(x - y) for x, y in zip(a.params(), one.params()))
        self.assertLess(diff, 1e-4)
        self.assertGreater(max(abs(x - y) for x, y in zip(a.params(), small_net().params())),
                           1e-3)  # it trained

    def test_exception_in_reduce_is_reraised(self):
        def reduce(values, cost, local, global_examples):
            raise RuntimeError("transport down")
        with self.assertRaisesRegex(RuntimeError, "transport down"):
            small_net().train(dataset(20), cnn.SGD(0.1), 1, shard=(0, 1, reduce))

    def test_reduce_must_return_the_cost(self):
        with self.assertRaisesRegex(TypeError, "reduced cost"):
            small_net().train(dataset(20), cnn.SGD(0.1), 1,
                              shard=(0, 1, lambda values, cost, local, total: None))

    def test_bad_shards_refused(self):
        data = dataset(20)
        with self.assertRaises(cnn.InvalidArgumentError):
            small_net().train(data, cnn.SGD(0.1), 1, shard=(2, 2, lambda *a: 0.0))
        with self.assertRaises(TypeError):
            small_net().train(data, cnn.SGD(0.1), 1, shard=(0, 2, None))
        with self.assertRaises(TypeError):
            small_net().train(data, cnn.SGD(0.1), 1, shard=(0, 2))


if __name__ == "__main__":
    unittest.main()
