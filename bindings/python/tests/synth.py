"""The synthetic digits every example and test uses when MNIST is absent.

Integer-only and RNG-free so C, C++, Python, Rust and Go produce the very
same bytes: example i has label i % 10 and a 5x5 white square whose
position encodes the label, jittered by up to 2 pixels.
"""


def synthetic(count, first=0):
    """(pixels bytes of count 28x28 images, labels bytes)."""
    pixels = bytearray(count * 28 * 28)
    labels = bytearray(count)
    for n in range(count):
        i = first + n
        label = i % 10
        top = 3 + (label // 5) * 13 + (i // 10) % 3
        left = 1 + (label % 5) * 5 + (i // 30) % 3
        for y in range(top, top + 5):
            start = n * 784 + y * 28 + left
            pixels[start:start + 5] = b"\xff" * 5
        labels[n] = label
    return bytes(pixels), bytes(labels)
