/* cnn-mnist's entry point: the flow of main.c in one process, no MPI. */
#include "frontend.h"

int main(int argc, char **argv)
{
    return mnist_main(argc, argv, "cnn-mnist", NULL);
}
