/* Differential test: process exit status. usage: exitcode CODE [return|exit|group] */
#include "rt/rt.h"

int main(int argc, char **argv)
{
    long code = arg_long(argc, argv, 1, 0);
    const char *how = argc > 2 ? argv[2] : "return";
    printf("exiting with %ld via %s\n", code, how);
    fflush_stdout();
    if (strcmp(how, "exit") == 0)
        sys_exit((int)code);
    if (strcmp(how, "group") == 0)
        sys_exit_group((int)code);
    return (int)code;
}
