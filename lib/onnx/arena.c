/* A bump allocator for the protobuf-c message tree export builds: many
 * small objects (nodes, attributes, names) with one lifetime, so they are
 * carved from a chain of blocks and freed together. */
#include "onnx/onnx.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct block {
    struct block *next;
    size_t size, used;
    max_align_t data[]; /* aligned for anything */
} block;

struct cnn_arena {
    block *head;
};

#define BLOCK_BYTES ((size_t)64 << 10)

cnn_arena *cnn_arena_create(void)
{
    return cnn_alloc_zeroed(1, sizeof(cnn_arena));
}

void cnn_arena_destroy(cnn_arena *a)
{
    if (!a)
        return;
    for (block *b = a->head, *next; b; b = next) {
        next = b->next;
        cnn_dealloc(b);
    }
    cnn_dealloc(a);
}

void *cnn_arena_alloc(cnn_arena *a, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    const size_t align = sizeof(max_align_t);
    size_t bytes = count * size;
    if (bytes > SIZE_MAX - align)
        return NULL;
    bytes = (bytes + align - 1) / align * align;
    if (bytes == 0)
        bytes = align;
    block *b = a->head;
    if (!b || b->size - b->used < bytes) {
        size_t cap = bytes > BLOCK_BYTES ? bytes : BLOCK_BYTES;
        if (cap > SIZE_MAX - sizeof(block))
            return NULL;
        b = cnn_alloc(sizeof(block) + cap);
        if (!b)
            return NULL;
        b->size = cap;
        b->used = 0;
        /* A large one-off block goes behind the head, so the head's free
         * room stays usable for the small objects that follow. */
        if (a->head && cap > BLOCK_BYTES) {
            b->next = a->head->next;
            a->head->next = b;
        } else {
            b->next = a->head;
            a->head = b;
        }
    }
    void *p = (unsigned char *)b->data + b->used;
    b->used += bytes;
    memset(p, 0, bytes);
    return p;
}

char *cnn_arena_strdup(cnn_arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = cnn_arena_alloc(a, n, 1);
    if (p)
        memcpy(p, s, n);
    return p;
}

char *cnn_arena_printf(cnn_arena *a, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return cnn_arena_strdup(a, buf);
}
