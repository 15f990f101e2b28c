/* File and byte helpers shared by the suites that write, damage and read
 * back files (model files, checkpoints, IDX files). */
#ifndef CNN_TESTFS_H
#define CNN_TESTFS_H

#include <stddef.h>
#include <stdint.h>

/* Number of entries in `dir`, not counting "." and "..". */
int test_dir_entries(const char *dir);
/* Removes the files (and empty subdirectories) in `dir`, then `dir`. */
void test_rm_tree(const char *dir);
/* Reads a whole file into a malloc'd buffer (fails the test if it cannot). */
uint8_t *test_read_file(const char *path, size_t *size);
/* Writes `size` bytes to `path`, replacing it (fails the test if it cannot). */
void test_write_file(const char *path, const void *data, size_t size);
/* Little-endian fields, for crafting damaged files. */
void test_put32(uint8_t *p, uint32_t v);
void test_put64(uint8_t *p, uint64_t v);
uint32_t test_get32(const uint8_t *p);
uint64_t test_get64(const uint8_t *p);

#endif
