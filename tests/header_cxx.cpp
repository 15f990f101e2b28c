/* The same header check as header_c99.c, compiled as C++: proves cnn.h's
 * extern "C" block and declarations are valid C++ under -pedantic -Werror. */
#include "header_c99.c"
