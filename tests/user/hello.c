/* The demo program shipped in the wheel: `pltvm exec --user hello`. */
#include "rt/rt.h"

int main(int argc, char **argv)
{
    printf("Hello, world from pltvm!\n");
    printf("argc = %d\n", argc);
    for (int i = 1; i < argc; i++)
        printf("argv[%d] = %s\n", i, argv[i]);
    return 0;
}
